import { dualStackBackends } from "../backends/registry.js";
import type { KernelOp } from "../kernel/api.js";
import type { LabNode, LabSpec } from "./topology.js";

/**
 * The lab's `--ip-family`: ipv4 (the default, as before), or dual: every node's underlay gets an
 * IPv6 address too, the agents a dual-stack cluster CIDR, every pod an address of each family,
 * and `lab check` pings every pod's IPv6 address as well. ipv6 (IPv6-only) is refused: it needs
 * BGP sessions over IPv6 transport and agents without an IPv4 pod range, which are not built.
 */
export const labIpFamilies = ["ipv4", "ipv6", "dual"] as const;
export type LabIpFamily = "ipv4" | "dual";

/** The models whose routes carry IPv6 pod subnets (bgp announces them, host-gw routes them directly). */
export const dualStackModels: readonly string[] = dualStackBackends;

/** The cluster's IPv6 pod network in a dual-stack lab (each node leases a /64 of it). */
export const labClusterCidr6 = "fd00:10:244::/56";
/** The l2 underlay's IPv6 network: node n<i> is <prefix>::<10+i>, as its IPv4 address is .<10+i>. */
const underlayNet6 = "fd00:192:168:10";

/**
 * Pure: why a lab cannot have this IP family (a line for the user), or undefined when it can.
 */
export function ipFamilyRefusal(
  family: string,
  spec: Pick<LabSpec, "model" | "underlay">,
): string | undefined {
  if (family === "ipv4") return undefined;
  if (family === "ipv6")
    return "ipv6 (IPv6-only) is not supported yet: it needs BGP sessions over IPv6 transport and agents without an IPv4 pod range; use dual";
  if (family !== "dual") return `"${family}" is not one of ${labIpFamilies.join(", ")}`;
  if (!dualStackModels.includes(spec.model))
    return `dual stack is built for --model ${dualStackModels.join(" and ")}, not ${spec.model} (its routes carry no IPv6 pod subnets yet)`;
  if (spec.underlay !== "l2")
    return "dual stack needs --underlay l2 (the l3 underlay's router routes no IPv6 yet)";
  return undefined;
}

/** Pure: a node's IPv6 underlay address in a dual-stack lab. */
export const labNodeIp6 = (node: Pick<LabNode, "name">): string =>
  `${underlayNet6}::${10 + Number(node.name.slice(1))}`;

/** Pure: the agents' `--cluster-cidr`: IPv4, and the IPv6 one after a comma on a dual-stack lab. */
export const labAgentClusterCidr = (spec: Pick<LabSpec, "clusterCidr" | "ipFamily">): string =>
  spec.ipFamily === "dual" ? `${spec.clusterCidr},${labClusterCidr6}` : spec.clusterCidr;

/**
 * Pure: what a dual-stack lab adds inside a node: its IPv6 underlay address (no duplicate address
 * detection: the lab numbers every node itself, and a tentative address could not be leased yet).
 */
export function ipFamilyNodeOps(spec: Pick<LabSpec, "ipFamily">, node: LabNode): KernelOp[] {
  if (spec.ipFamily !== "dual") return [];
  return [{ op: "addr.add", dev: "eth0", cidr: `${labNodeIp6(node)}/64`, noDad: true }];
}
