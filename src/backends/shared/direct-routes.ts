import type { NodeLease } from "../../cluster/node-lease.js";
import { contains } from "../../common/cidr.js";
import type { Route } from "../../kernel/api.js";
import type { LocalNode } from "../api.js";

/**
 * Direct routing, shared by the backends that use it (host-gw for every peer, vxlan-crosssubnet
 * for the peers on its own segment): a peer on the same L2 segment is reached by routing its pod
 * subnet via its underlay address, no encapsulation.
 */

/** Is `peer` on the same L2 segment as `local` (its underlay address inside our underlay subnet)? */
export function isL2Adjacent(local: NodeLease, peer: NodeLease): boolean {
  return contains(`${local.publicIp}/${local.publicPrefix}`, peer.publicIp);
}

/** The direct route to an L2-adjacent peer: its pod subnet via its underlay address. */
export function directRoute(peer: NodeLease, underlayDev: string): Route {
  return { dst: peer.subnet, via: peer.publicIp, dev: underlayDev };
}

/**
 * Dual stack: the direct route to a peer's IPv6 pod subnet, via its global IPv6 address, when both
 * nodes lease one and the peer's address is on this node's IPv6 underlay network; else none.
 */
export function directRoute6(local: LocalNode, peer: NodeLease): Route | undefined {
  if (!local.lease.subnet6 || !local.underlayCidr6 || !peer.subnet6 || !peer.publicIp6) return undefined;
  if (!contains(local.underlayCidr6, peer.publicIp6)) return undefined;
  return { dst: peer.subnet6, via: peer.publicIp6, dev: local.underlayDev };
}
