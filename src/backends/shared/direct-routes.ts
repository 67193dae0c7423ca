import type { NodeLease } from "../../cluster/node-lease.js";
import { contains } from "../../common/cidr.js";
import type { Route } from "../../kernel/api.js";

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
