import { dualStackBackends } from "../backends/registry.js";
import type { KernelOp } from "../kernel/api.js";
import type { LabNode, LabSpec } from "./topology.js";

/**
 * The lab's `--ip-family`: ipv4 (the default, as before); dual: every node's underlay gets an
 * IPv6 address too, the agents a dual-stack cluster CIDR, every pod an address of each family, and
 * `lab check` pings every pod's IPv6 address as well; ipv6 (IPv6-only): the agents get the IPv6
 * cluster CIDR alone, so each node leases an IPv6 /64 only, BGP sessions run over the nodes' IPv6
 * addresses (on l3 between each node and the router's IPv6 address on its segment), and pods get
 * an IPv6 address alone. The underlay keeps its IPv4 addresses for the
 * lab's own plumbing (etcd listens there); the pod network uses none of them.
 */
export const labIpFamilies = ["ipv4", "ipv6", "dual"] as const;
export type LabIpFamily = (typeof labIpFamilies)[number];

/** The models whose routes carry IPv6 pod subnets (bgp announces them, host-gw routes them directly). */
export const dualStackModels: readonly string[] = dualStackBackends;

/** The cluster's IPv6 pod network in a dual-stack or IPv6-only lab (each node leases a /64 of it). */
export const labClusterCidr6 = "fd00:10:244::/56";
/**
 * Each underlay segment's IPv6 network (segment a: 192.168.10.0/24, b on l3: 192.168.20.0/24): node
 * n<i> is <prefix>::<10+i>, as its IPv4 address is .<10+i>; the underlay namespace (switch, or the
 * l3 router) is <prefix>::1, the nodes' IPv6 default gateway.
 */
const underlayNet6 = { a: "fd00:192:168:10", b: "fd00:192:168:20" } as const;
const underlayGateway6 = (segment: "a" | "b" = "a") => `${underlayNet6[segment]}::1`;
/** Pure: a node's IPv6 gateway (the switch on l2, the router's address on its segment on l3). */
export const labNodeGateway6 = (node: { readonly segment?: "a" | "b" }): string =>
  underlayGateway6(node.segment);
/** An IPv6 address outside the cluster (RFC 3849 documentation, as 203.0.113.10 is TEST-NET-3). */
export const outsideIp6 = "2001:db8::10";

/**
 * Pure: why a lab cannot have this IP family (a line for the user), or undefined when it can.
 */
export function ipFamilyRefusal(
  family: string,
  spec: Pick<LabSpec, "model" | "underlay">,
): string | undefined {
  if (family === "ipv4") return undefined;
  if (!(labIpFamilies as readonly string[]).includes(family))
    return `"${family}" is not one of ${labIpFamilies.join(", ")}`;
  const what = family === "dual" ? "dual stack" : "ipv6 (IPv6-only)";
  if (!dualStackModels.includes(spec.model))
    return `${what} is built for --model ${dualStackModels.join(" and ")}, not ${spec.model} (its routes carry no IPv6 pod subnets yet)`;
  // l3: only the bgp model's router passes IPv6 pod subnets between the segments (over IPv4
  // sessions on dual stack, over IPv6 sessions on IPv6-only); host-gw needs one segment.
  if (spec.underlay !== "l2" && spec.model !== "bgp")
    return `${what} on --underlay l3 is built for --model bgp (the router passes IPv6 routes on)`;
  return undefined;
}

/** Pure: a node's IPv6 underlay address in a dual-stack or IPv6-only lab (on its segment). */
export const labNodeIp6 = (node: Pick<LabNode, "name"> & { readonly segment?: "a" | "b" }): string =>
  `${underlayNet6[node.segment ?? "a"]}::${10 + Number(node.name.slice(1))}`;

/** Pure: the agents' `--cluster-cidr`: IPv4; both after a comma on dual stack; IPv6 alone on ipv6. */
export function labAgentClusterCidr(spec: Pick<LabSpec, "clusterCidr" | "ipFamily">): string {
  if (spec.ipFamily === "dual") return `${spec.clusterCidr},${labClusterCidr6}`;
  return spec.ipFamily === "ipv6" ? labClusterCidr6 : spec.clusterCidr;
}

/** Pure: the families of a node's pod routes (its subnet's, and IPv6 beside IPv4 on dual stack). */
export const labRouteFamilies = (node: { readonly subnet?: string; readonly subnet6?: string }): (4 | 6)[] =>
  node.subnet?.includes(":") ? [6] : node.subnet6 ? [4, 6] : [4];

/**
 * Pure: what a dual-stack or IPv6-only lab adds inside a node: its IPv6 underlay address (no
 * duplicate address detection: the lab numbers every node itself, and a tentative address could
 * not be leased yet) and an IPv6 default route via the underlay namespace (IPv6 pods reach the
 * outside address through it, masqueraded).
 */
export function ipFamilyNodeOps(spec: Pick<LabSpec, "ipFamily">, node: LabNode): KernelOp[] {
  if (spec.ipFamily !== "dual" && spec.ipFamily !== "ipv6") return [];
  return [
    { op: "addr.add", dev: "eth0", cidr: `${labNodeIp6(node)}/64`, noDad: true },
    { op: "route.replace", route: { dst: "::/0", via: labNodeGateway6(node), dev: "eth0" } },
  ];
}

/**
 * Pure: what a dual-stack or IPv6-only lab adds to the underlay namespace: the nodes' IPv6
 * gateway on each segment's switch, the IPv6 outside address, and on l3 IPv6 forwarding (the
 * router routes pod subnets between the segments, as it does IPv4).
 */
export function ipFamilyUnderlayOps(spec: Pick<LabSpec, "ipFamily" | "underlay">): KernelOp[] {
  if (spec.ipFamily !== "dual" && spec.ipFamily !== "ipv6") return [];
  const segments = spec.underlay === "l3" ? (["a", "b"] as const) : (["a"] as const);
  return [
    { op: "addr.add", dev: "lo", cidr: `${outsideIp6}/128`, ifAbsent: true },
    ...segments.map(
      (s): KernelOp => ({
        op: "addr.add",
        dev: `sw-${s}`,
        cidr: `${underlayGateway6(s)}/64`,
        ifAbsent: true,
        noDad: true,
      }),
    ),
    ...(spec.underlay === "l3"
      ? [{ op: "sysctl.set" as const, key: "net/ipv6/conf/all/forwarding", value: "1" }]
      : []),
  ];
}
