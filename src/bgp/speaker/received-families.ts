import type { PathAttributes, UpdateMessage } from "../codec/types.js";
import type { Negotiated } from "../fsm/negotiation.js";

/** Part of an UPDATE left out because the session did not negotiate its family. */
export interface IgnoredFamily {
  /** e.g. "IPv6 unicast", "IPv4 unicast with IPv6 next hop", "AFI 25 SAFI 70". */
  readonly family: string;
  /** Prefixes announced and withdrawn in that part (0 for a family whose NLRI are not read). */
  readonly prefixes: number;
}

export interface ReceivedFamilies {
  /**
   * What the RIB takes: none, one UPDATE, or two when IPv4 came both in the NLRI field (with
   * NEXT_HOP) and in MP_REACH_NLRI (with its own next hop), so each keeps its next hop.
   */
  readonly updates: readonly UpdateMessage[];
  readonly ignored: readonly IgnoredFamily[];
}

const familyName = (afi: number, safi: number): string =>
  afi === 1 && safi === 1
    ? "IPv4 unicast"
    : afi === 2 && safi === 1
      ? "IPv6 unicast"
      : `AFI ${afi} SAFI ${safi}`;

const isV6 = (a: string) => a.includes(":");
const noneIgnored: readonly IgnoredFamily[] = Object.freeze([]);

/**
 * Pure: an UPDATE without what the session did not negotiate. RFC 4760 §7 leaves a family that
 * was not negotiated to the receiver; like FRR ("UPDATE for non-enabled AFI/SAFI") and BIRD, its
 * routes are ignored — not installed, not passed on, not a reason to reset — and the caller logs
 * them. IPv4 NLRI with an IPv6 next hop count as a family of their own: they need the Extended
 * Next Hop Encoding capability on both sides (RFC 8950 §4).
 */
export function receivedFamilies(u: UpdateMessage, n: Negotiated): ReceivedFamilies {
  // The common case, once per UPDATE: plain IPv4 on a session that has it, nothing to split.
  if (n.ipv4Unicast && u.attributes.mpReach === undefined && u.attributes.mpUnreach === undefined)
    return { updates: [u], ignored: noneIgnored };
  const ignored: IgnoredFamily[] = [];
  const ignore = (family: string, prefixes: number) => ignored.push({ family, prefixes });
  const { nextHop, mpReach: reach, mpUnreach: unreach, ...rest } = u.attributes;
  let mpReach = reach;
  let mpUnreach = unreach;
  let nlri = u.nlri;
  let withdrawn = u.withdrawn;
  if (!n.ipv4Unicast && nlri.length + withdrawn.length > 0) {
    ignore("IPv4 unicast", nlri.length + withdrawn.length);
    nlri = [];
    withdrawn = [];
  }
  if (mpReach && !reachNegotiated(mpReach.afi, mpReach.safi, mpReach.nextHops, n)) {
    const viaV6 = mpReach.afi === 1 && mpReach.safi === 1 && mpReach.nextHops.some(isV6);
    ignore(
      viaV6 && n.ipv4Unicast ? "IPv4 unicast with IPv6 next hop" : familyName(mpReach.afi, mpReach.safi),
      mpReach.nlri.length,
    );
    mpReach = undefined;
  }
  if (mpUnreach && !unreachNegotiated(mpUnreach.afi, mpUnreach.safi, n)) {
    ignore(familyName(mpUnreach.afi, mpUnreach.safi), mpUnreach.withdrawn.length);
    mpUnreach = undefined;
  }
  if (ignored.length === 0 && !(mpReach?.afi === 1 && (nlri.length > 0 || nextHop !== undefined)))
    return { updates: [u], ignored };
  const outcomes = u.outcomes ? { outcomes: u.outcomes } : {};
  const make = (
    attributes: PathAttributes,
    reach: readonly string[],
    gone: readonly string[],
  ): UpdateMessage => ({
    type: "update",
    withdrawn: gone,
    attributes,
    nlri: reach,
    ...outcomes,
  });
  const opt = <K extends keyof PathAttributes>(k: K, v: PathAttributes[K]) =>
    v === undefined ? {} : { [k]: v };
  const updates: UpdateMessage[] = [];
  if (mpReach?.afi === 1) {
    // IPv4 in MP_REACH_NLRI: its next hop is MP_REACH's; NEXT_HOP belongs to the NLRI field only
    // (RFC 4760 §3: ignored when MP_REACH_NLRI alone carries the routes).
    updates.push(make({ ...rest, mpReach, ...opt("mpUnreach", mpUnreach) }, [], withdrawn));
    if (nlri.length > 0) updates.push(make({ ...rest, ...opt("nextHop", nextHop) }, nlri, []));
  } else {
    const attributes = {
      ...rest,
      ...opt("nextHop", nextHop),
      ...opt("mpReach", mpReach),
      ...opt("mpUnreach", mpUnreach),
    };
    const empty = nlri.length + withdrawn.length === 0 && !mpReach && !mpUnreach;
    if (!empty) updates.push(make(attributes, nlri, withdrawn));
  }
  return { updates, ignored };
}

function reachNegotiated(afi: number, safi: number, nextHops: readonly string[], n: Negotiated): boolean {
  if (afi === 2 && safi === 1) return n.ipv6Unicast;
  if (afi === 1 && safi === 1) return n.ipv4Unicast && (!nextHops.some(isV6) || n.ipv4ViaIpv6);
  return false;
}

function unreachNegotiated(afi: number, safi: number, n: Negotiated): boolean {
  if (afi === 2 && safi === 1) return n.ipv6Unicast;
  if (afi === 1 && safi === 1) return n.ipv4Unicast;
  return false;
}
