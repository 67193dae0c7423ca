import type { UpdateMessage } from "./types.js";

/** An address family as AFI/SAFI numbers (RFC 4760): 1/1 IPv4 unicast, 2/1 IPv6 unicast. */
export interface Family {
  readonly afi: number;
  readonly safi: number;
}

export const ipv4Unicast: Family = { afi: 1, safi: 1 };
export const ipv6Unicast: Family = { afi: 2, safi: 1 };

/** "afi/safi": a family as a map key. */
export const familyKey = (f: Family): string => `${f.afi}/${f.safi}`;

/** The family a prefix belongs to (IPv4 or IPv6 unicast: the ones this speaker carries). */
export const familyOfPrefix = (prefix: string): Family => (prefix.includes(":") ? ipv6Unicast : ipv4Unicast);

/**
 * Pure: the End-of-RIB marker of a family (RFC 4724 §2): for IPv4 unicast an UPDATE with nothing
 * in it; for any other family an UPDATE whose only attribute is an MP_UNREACH_NLRI without prefixes.
 */
export function endOfRib(f: Family): UpdateMessage {
  if (f.afi === 1 && f.safi === 1) return { type: "update", withdrawn: [], attributes: {}, nlri: [] };
  return {
    type: "update",
    withdrawn: [],
    attributes: { mpUnreach: { afi: f.afi, safi: f.safi, withdrawn: [] } },
    nlri: [],
  };
}

/**
 * Pure: the family a received UPDATE marks the end of (RFC 4724 §2), or undefined when it is an
 * ordinary UPDATE. An MP_UNREACH_NLRI without prefixes is the marker only when nothing else is in
 * the message (no other attribute, no withdrawn routes, no NLRI).
 */
export function endOfRibFamily(u: UpdateMessage): Family | undefined {
  // A message the decoder repaired (RFC 7606) was not empty on the wire: never a marker.
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || (u.outcomes?.length ?? 0) > 0) return undefined;
  const { mpUnreach, unknown, ...rest } = u.attributes;
  const others = Object.values(rest).some((v) => v !== undefined) || (unknown?.length ?? 0) > 0;
  if (others) return undefined;
  if (!mpUnreach) return ipv4Unicast;
  if (mpUnreach.withdrawn.length > 0) return undefined;
  return { afi: mpUnreach.afi, safi: mpUnreach.safi };
}
