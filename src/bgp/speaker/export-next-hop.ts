import { isIpv4 } from "../../common/cidr.js";
import type { PathAttributes } from "../codec/types.js";

/** What decides the next hops of one route sent on one session. */
export interface NextHopInputs {
  /** Next hop is this speaker (eBGP, next-hop-self, or a route of our own). */
  readonly self: boolean;
  /** The route is ours (originated here), not learned. */
  readonly originated: boolean;
  /** The route's attributes as learned (their NEXT_HOP / MP_REACH next hops pass through when not self). */
  readonly attributes: PathAttributes;
  /** The session's local address (IPv4, IPv6, or IPv6 link-local; a zone suffix is dropped). */
  readonly sessionAddress?: string;
  /** Our configured IPv4 next hop (originated routes, and IPv4 routes over an IPv6 session). */
  readonly ipv4?: string;
  /** The session negotiated RFC 8950 (IPv4 routes may go out with an IPv6 next hop). */
  readonly ipv4ViaIpv6?: boolean;
  /**
   * Our link-local address on the session's link when the peer shares it (RFC 2545 §3): goes
   * beside a global IPv6 next hop of ours (a link-local session's own address does anyway).
   */
  readonly linkLocal?: string;
  /** Our configured IPv6 next hop (IPv6 routes over an IPv4 session, or a global one beside a link-local session). */
  readonly ipv6?: string;
}

/** The next hops a route goes out with; a family without one cannot be sent on that session. */
export interface ExportNextHops {
  /** IPv4 NEXT_HOP (always 4 octets on the wire: never an IPv6 text). */
  readonly v4?: string;
  /**
   * IPv4 routes in MP_REACH_NLRI with these IPv6 next hops (RFC 8950), instead of NEXT_HOP: set
   * only when the session negotiated it and either runs over IPv6 or passes on a learned IPv6
   * next hop of an IPv4 route.
   */
  readonly v4Via6?: readonly string[];
  /** MP_REACH_NLRI next hops for IPv6: a global one, then a link-local one when we have it (RFC 2545 §3). */
  readonly v6?: readonly string[];
}

const bare = (a: string) => a.replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.)/, "");
const isLinkLocal6 = (a: string) => /^fe[89ab][0-9a-f]:/i.test(a);
const isV6 = (a: string) => a.includes(":");

/**
 * Pure: the next hops of one route on one session. An IPv4 route gets an IPv4 NEXT_HOP — over an
 * IPv6 session that is the configured one, never the session's address (RFC 4271 §5.1.3: 4
 * octets; FRR answers a shorter one with NOTIFICATION 3/10) — unless the session negotiated
 * RFC 8950: then over an IPv6 session it goes with our IPv6 next hops, and a learned IPv6 next
 * hop of an IPv4 route passes on as it came (without RFC 8950 on the session such a route gets
 * us as its IPv4 next hop, or none). An IPv6 route gets a global IPv6 next hop and, over a
 * link-local session, our link-local address beside it (RFC 2545 §3).
 */
export function exportNextHops(i: NextHopInputs): ExportNextHops {
  const session = i.sessionAddress === undefined ? undefined : bare(i.sessionAddress);
  const sessionV4 = session !== undefined && isIpv4(session) ? session : undefined;
  const sessionV6 = session !== undefined && isV6(session) ? session : undefined;
  const sessionLinkLocal = sessionV6 !== undefined && isLinkLocal6(sessionV6) ? sessionV6 : undefined;
  const linkLocal = sessionLinkLocal ?? (i.linkLocal !== undefined ? bare(i.linkLocal) : undefined);
  const sessionGlobal6 = sessionV6 !== undefined && !sessionLinkLocal ? sessionV6 : undefined;
  // A learned global next hop passes on alone: a link-local one is only ever the sender's own.
  const learned6 = i.self
    ? undefined
    : i.attributes.mpReach?.nextHops.find((h) => isV6(h) && h !== "::" && !isLinkLocal6(h));
  const global = i.ipv6 ?? sessionGlobal6;
  const ours6 = global
    ? linkLocal
      ? [global, linkLocal]
      : [global]
    : sessionLinkLocal
      ? [sessionLinkLocal]
      : undefined;
  const v6 = learned6 ? [learned6] : ours6;
  // RFC 8950: over an IPv6 session our own IPv6 next hops; a learned IPv6 one passes on.
  const learnedVia6 = !i.self && i.attributes.mpReach?.afi === 1 ? learned6 : undefined;
  const v4Via6 = !i.ipv4ViaIpv6
    ? undefined
    : learnedVia6
      ? [learnedVia6]
      : sessionV6 !== undefined && (i.self || i.attributes.mpReach?.afi === 1)
        ? ours6
        : undefined;
  const v4 = i.self
    ? ((i.originated ? i.ipv4 : undefined) ?? sessionV4 ?? i.ipv4)
    : (i.attributes.nextHop ?? (i.originated ? undefined : (sessionV4 ?? i.ipv4)));
  if (v4Via6) return { v4Via6, ...(v6 ? { v6 } : {}) };
  return { ...(v4 && isIpv4(v4) ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
}
