import { vxlanOverheadV4 } from "../../backends/vxlan/vxlan.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { contains, networkAddress } from "../../common/cidr.js";
import type { Link } from "../../kernel/api.js";
import type { TunnelProto } from "../../kernel/bpf-tunnel/api.js";
import { tunnelOverhead } from "../../kernel/bpf-tunnel/api.js";
import type { NodeFacts } from "../facts.js";

/** The model this node runs: what its agent says, else its lease in the datastore. */
export function modelOf(f: NodeFacts): string | undefined {
  return f.agent.health?.model ?? ownLease(f)?.backend;
}

export const ownLease = (f: NodeFacts): NodeLease | undefined =>
  f.cluster?.leases.find((l) => l.node === f.node);

/** Every other node's valid lease. */
export const peerLeases = (f: NodeFacts): readonly NodeLease[] =>
  f.cluster?.leases.filter((l) => l.node !== f.node) ?? [];

/** The tunnel protocol of an ipip/gre model (either mode), or undefined. */
export const tunnelProtoOf = (model: string | undefined): TunnelProto | undefined =>
  /^(ipip|gre)(-crosssubnet)?$/.exec(model ?? "")?.[1] as TunnelProto | undefined;

/** Bytes the model adds to a pod's packet on the underlay (GRE without its key: see overheadOf). */
export const encapOverhead = (model: string | undefined): number => {
  const proto = tunnelProtoOf(model);
  if (proto) return tunnelOverhead(proto);
  return model === "vxlan" || model === "vxlan-crosssubnet" ? vxlanOverheadV4 : 0;
};

/** The node's overhead: what its agent reports (a GRE key adds 4), else the model's. */
export const overheadOf = (f: NodeFacts): number =>
  f.agent.health?.backend?.overhead ?? encapOverhead(modelOf(f));

/**
 * Whether this node reaches `peer` through its tunnel (not direct): vxlan, ipip and gre always,
 * their crosssubnet modes across subnets.
 */
export function encapsulatesTo(
  model: string | undefined,
  self: NodeLease | undefined,
  peer: NodeLease,
): boolean {
  if (model === "vxlan" || model === "ipip" || model === "gre") return true;
  if (!/^(vxlan|ipip|gre)-crosssubnet$/.test(model ?? "")) return false;
  if (!self) return true;
  return !contains(`${self.publicIp}/${self.publicPrefix}`, peer.publicIp);
}

/** The node's VXLAN device, if it has one. */
export const vxlanLink = (f: NodeFacts): Link | undefined => f.kernel.links.find((l) => l.kind === "vxlan");

/** A peer's VTEP address: the network address of its pod subnet (see the vxlan backend). */
export const vtepOf = (peer: NodeLease): string => networkAddress(peer.subnet);

/** The first address of a subnet (what `ip route get` is asked for the pods of a subnet). */
export const firstHost = (subnet: string): string => {
  const net = networkAddress(subnet);
  // IPv6: the network address ends in "::" for every subnet of /112 or shorter (a pod subnet).
  if (net.includes(":")) return net.endsWith("::") ? `${net}1` : net;
  const octets = net.split(".").map(Number);
  octets[3] = (octets[3] ?? 0) + 1;
  return octets.join(".");
};

export const underlayLink = (f: NodeFacts): Link | undefined =>
  f.kernel.links.find((l) => l.name === f.underlayDev);

/** The words for a peer in a verdict: "n2 (192.168.10.12)". */
export const peerName = (p: NodeLease): string => `${p.node} (${p.publicIp})`;
