import type { KernelOp } from "../kernel/api.js";
import type { LabNode } from "./topology.js";

/**
 * Pure: static (PERMANENT) ARP entries for the lab's underlay, by namespace: in each node, every
 * other node of its segment and its gateway; in the underlay namespace, every node on its
 * segment's switch.
 *
 * Why: the kernel keeps one ARP table for every namespace on the machine, and its hard limit
 * (gc_thresh3, 1024 by default, settable only in the root namespace, which the lab never changes)
 * counts dynamic entries. N nodes that all talk to each other (BGP sessions, VXLAN tunnels, host-gw
 * next hops) need N(N−1) of them: past ~33 nodes the table overflows ("neighbor table overflow!"
 * in the kernel log) and the last nodes to come up are unreachable. Permanent entries are not
 * counted (Linux ≥ 4.19), and a lab's underlay addresses never move, as a datacenter's static ARP.
 */
export function underlayNeighbourOps(
  nodes: readonly LabNode[],
  /** Each node's uplink (eth0) MAC, by node name. */
  uplinkMac: ReadonlyMap<string, string>,
  /** Each segment's switch (the nodes' gateway) MAC. */
  switchMac: ReadonlyMap<LabNode["segment"], string>,
  underlayNs: string,
): Map<string, KernelOp[]> {
  const macOf = (n: LabNode) => {
    const mac = uplinkMac.get(n.name);
    if (!mac) throw new RangeError(`underlay neighbours: no MAC for ${n.name}'s eth0`);
    return mac;
  };
  const out = new Map<string, KernelOp[]>();
  const underlay: KernelOp[] = [];
  for (const n of nodes) {
    const ops: KernelOp[] = [];
    const gateway = switchMac.get(n.segment);
    if (gateway) ops.push({ op: "neigh.replace", dev: "eth0", ip: n.gateway, mac: gateway, permanent: true });
    for (const m of nodes)
      if (m !== n && m.segment === n.segment)
        ops.push({ op: "neigh.replace", dev: "eth0", ip: m.ip, mac: macOf(m), permanent: true });
    out.set(n.ns, ops);
    underlay.push({ op: "neigh.replace", dev: `sw-${n.segment}`, ip: n.ip, mac: macOf(n), permanent: true });
  }
  out.set(underlayNs, underlay);
  return out;
}
