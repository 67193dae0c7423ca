import { z } from "zod";
import type { BackendDefinition } from "../definition.js";
import { createHostGwBackend } from "./host-gw.js";

/** host-gw in the registry: no options of its own. */
export const hostGwDefinition = {
  name: "host-gw" as const,
  hostable: true,
  summary: "a route per node's pod subnet via its underlay address (one L2 segment)",
  options: z.object({}),
  cliFlags: [],
  create: () => createHostGwBackend(),
  dualStack: true,
} satisfies BackendDefinition<Record<string, never>>;
