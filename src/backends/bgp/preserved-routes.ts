import type { Route } from "../../kernel/api.js";
import { strataRouteProto } from "../../kernel/desired/route-proto.js";

/**
 * Pure: the BGP routes an earlier run of this agent left in the kernel (its forwarding state,
 * RFC 4724 §4.1): Strata's protocol tag, a gateway on the underlay device, not our own subnet.
 * A restarted agent keeps them until its peers' End-of-RIB tells it what is still true.
 */
export function preservedRoutes(
  observed: readonly Route[],
  underlayDev: string,
  ownSubnet: string,
  /** Dual stack: this node's IPv6 subnet (not a route of BGP's either). */
  ownSubnet6?: string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of observed) {
    if (r.proto !== strataRouteProto || !r.via || r.dev !== underlayDev || r.nexthops) continue;
    if (
      r.dst === ownSubnet ||
      r.dst === ownSubnet6 ||
      r.dst === "default" ||
      (r.table !== undefined && r.table !== 254)
    )
      continue;
    out.set(r.dst, r.via);
  }
  return out;
}
