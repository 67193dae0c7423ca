import { z } from "zod";
import type { BackendDefinition } from "../definition.js";
import { portFlag } from "../flag-schemas.js";
import { sleevePortFlag } from "../shared/sleeve-peers.js";
import { createSleeveBackend } from "./sleeve.js";

/** sleeve in the registry: every peer through the userspace datapath. */
export const sleeveDefinition = {
  name: "sleeve" as const,
  summary: "pod packets in UDP through a userspace helper (TUN); any kernel with TUN; pod MTU − 36",
  options: z.object({ sleevePort: portFlag() }).transform((o) => ({ port: o.sleevePort })),
  cliFlags: [sleevePortFlag],
  create: (o: { port: number }, deps) => createSleeveBackend({ port: o.port, datapath: deps.sleeve }),
} satisfies BackendDefinition<{ port: number }>;
