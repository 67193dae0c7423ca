import { z } from "zod";
import type { BackendCliFlag, BackendDefinition } from "../definition.js";
import { portFlag, wholeNumberFlag } from "../flag-schemas.js";
import { createVxlanBackend } from "./vxlan.js";

/** The options both VXLAN backends take. */
export interface VxlanFlagOptions {
  readonly vni: number;
  readonly port: number;
}

const cliFlags: readonly BackendCliFlag[] = [
  {
    flag: "--vxlan-port <port>",
    help: "VXLAN UDP port (8472 Linux/Flannel default, 4789 IANA)",
    default: "8472",
  },
  { flag: "--vni <vni>", help: "VXLAN network identifier", default: "1" },
];

const options = z
  .object({
    // RFC 7348 §5: the VNI is 24 bits.
    vni: wholeNumberFlag(1, 0xffffff),
    vxlanPort: portFlag(),
  })
  .transform((o): VxlanFlagOptions => ({ vni: o.vni, port: o.vxlanPort }));

/** vxlan in the registry: every peer through the VXLAN device. */
export const vxlanDefinition = {
  name: "vxlan" as const,
  hostable: true,
  summary: "VXLAN overlay with static FDB and neighbours; crosses L3 hops; pod MTU − 50",
  options,
  cliFlags,
  create: (o: VxlanFlagOptions, deps) => createVxlanBackend({ ...o, directRouting: false, node: deps.node }),
} satisfies BackendDefinition<VxlanFlagOptions>;

/** vxlan-crosssubnet in the registry: direct routes to peers on this node's segment, VXLAN to the rest. */
export const vxlanCrossSubnetDefinition = {
  name: "vxlan-crosssubnet" as const,
  hostable: true,
  summary: "direct routes on the node's L2 segment, VXLAN to the other nodes",
  options,
  cliFlags,
  create: (o: VxlanFlagOptions, deps) => createVxlanBackend({ ...o, directRouting: true, node: deps.node }),
} satisfies BackendDefinition<VxlanFlagOptions>;
