import { z } from "zod";
import type { BackendCliFlag, BackendDefinition, BackendDeps } from "../definition.js";
import { choiceFlag, portFlag, wholeNumberFlag } from "../flag-schemas.js";
import { sleevePortFlag } from "../shared/sleeve-peers.js";
import { createTunnelBackend, type TunnelSpec } from "./tunnel.js";
import { type TunnelDatapathRequest, tunnelDatapathRequests } from "./tunnel-datapath.js";

/** The options every tunnel backend takes (the GRE key only the gre ones). */
export interface TunnelFlagOptions {
  readonly datapath: TunnelDatapathRequest;
  readonly greKey?: number;
  readonly sleevePort: number;
}

const datapathFlag: BackendCliFlag = {
  flag: "--datapath <auto|kernel|bpf|sleeve>",
  help: "where IPIP/GRE is encapsulated: the kernel's tunnel device (needs the ipip/gre module), the tc-BPF datapath, the sleeve userspace datapath (UDP, not IPIP/GRE), or auto (kernel where the module exists, else BPF, else sleeve)",
  default: "auto",
};

const greKeyFlag: BackendCliFlag = {
  flag: "--gre-key <n>",
  help: "GRE key (RFC 2890) every packet carries, 0 to 4294967295; pod MTU − 28 instead of − 24 (default: no key)",
};

const ipipOptions = z
  .object({ datapath: choiceFlag(tunnelDatapathRequests), sleevePort: portFlag() })
  .transform((o): TunnelFlagOptions => ({ datapath: o.datapath, sleevePort: o.sleevePort }));

const greOptions = z
  .object({
    datapath: choiceFlag(tunnelDatapathRequests),
    greKey: wholeNumberFlag(0, 0xffffffff).optional(),
    sleevePort: portFlag(),
  })
  .transform(
    (o): TunnelFlagOptions => ({ datapath: o.datapath, greKey: o.greKey, sleevePort: o.sleevePort }),
  );

const create = (spec: Omit<TunnelSpec, "greKey">) => (o: TunnelFlagOptions, deps: BackendDeps) =>
  createTunnelBackend({
    ...spec,
    datapath: o.datapath,
    greKey: o.greKey,
    bpfTunnel: deps.bpfTunnel,
    sleeve: deps.sleeve,
    sleevePort: o.sleevePort,
  });

/** ipip in the registry: every peer through IPIP. */
export const ipipDefinition = {
  name: "ipip" as const,
  summary: "IPIP overlay (IPv4 only), kernel device or tc-BPF per node; crosses L3 hops; pod MTU − 20",
  options: ipipOptions,
  cliFlags: [datapathFlag, sleevePortFlag],
  create: create({ proto: "ipip", crossSubnet: false }),
} satisfies BackendDefinition<TunnelFlagOptions>;

/** ipip-crosssubnet in the registry: direct routes on the node's segment, IPIP to the rest (Calico's CrossSubnet). */
export const ipipCrossSubnetDefinition = {
  name: "ipip-crosssubnet" as const,
  summary: "direct routes on the node's L2 segment, IPIP to the other nodes",
  options: ipipOptions,
  cliFlags: [datapathFlag, sleevePortFlag],
  create: create({ proto: "ipip", crossSubnet: true }),
} satisfies BackendDefinition<TunnelFlagOptions>;

/** gre in the registry: every peer through GRE. */
export const greDefinition = {
  name: "gre" as const,
  summary:
    "GRE overlay (IPv4 only), kernel device or tc-BPF per node; crosses L3 hops; pod MTU − 24 (− 28 with a key)",
  options: greOptions,
  cliFlags: [datapathFlag, greKeyFlag, sleevePortFlag],
  create: create({ proto: "gre", crossSubnet: false }),
} satisfies BackendDefinition<TunnelFlagOptions>;

/** gre-crosssubnet in the registry: direct routes on the node's segment, GRE to the rest. */
export const greCrossSubnetDefinition = {
  name: "gre-crosssubnet" as const,
  summary: "direct routes on the node's L2 segment, GRE to the other nodes",
  options: greOptions,
  cliFlags: [datapathFlag, greKeyFlag, sleevePortFlag],
  create: create({ proto: "gre", crossSubnet: true }),
} satisfies BackendDefinition<TunnelFlagOptions>;
