import type { Capability } from "../codec/types.js";

/** What two OPENs agreed on: the facts that decide what may be sent on the session. */
export interface Negotiated {
  /** Both sides carry 4-octet AS numbers (RFC 6793). */
  readonly fourOctetAs: boolean;
  /** Address families both sides may send (RFC 4760 §8: IPv4 and IPv6 unicast here). */
  readonly ipv4Unicast: boolean;
  readonly ipv6Unicast: boolean;
  /**
   * IPv4 unicast NLRI may carry an IPv6 next hop (RFC 8950 §4): both sides sent the Extended Next
   * Hop Encoding capability for AFI 1 / SAFI 1 / next hop AFI 2.
   */
  readonly ipv4ViaIpv6: boolean;
}

const families = (caps: readonly Capability[]) =>
  caps.flatMap((c) => (c.kind === "multiprotocol" ? [`${c.afi}/${c.safi}`] : []));

const extendedNextHop = (caps: readonly Capability[]) =>
  caps.some(
    (c) =>
      c.kind === "extended-next-hop" &&
      c.entries.some((e) => e.afi === 1 && e.safi === 1 && e.nextHopAfi === 2),
  );

/**
 * Pure: the session's terms from the capabilities we sent and those the peer sent (RFC 5492). A
 * family goes out only when both sides listed it (RFC 4760 §8); a speaker that lists no
 * multiprotocol capability at all speaks IPv4 unicast (RFC 4760 §1: its default).
 */
export function negotiate(sent: readonly Capability[], received: readonly Capability[]): Negotiated {
  const ours = families(sent);
  const theirs = families(received);
  const has = (list: string[], f: string) => list.includes(f) || (list.length === 0 && f === "1/1");
  const both = (f: string) => has(ours, f) && has(theirs, f);
  return {
    fourOctetAs:
      sent.some((c) => c.kind === "four-octet-as") && received.some((c) => c.kind === "four-octet-as"),
    ipv4Unicast: both("1/1"),
    ipv6Unicast: both("2/1"),
    ipv4ViaIpv6: both("1/1") && extendedNextHop(sent) && extendedNextHop(received),
  };
}

/** Whether `prefix` (IPv4 or IPv6 text) may be sent on a session with these terms. */
export const familyNegotiated = (n: Negotiated, prefix: string): boolean =>
  prefix.includes(":") ? n.ipv6Unicast : n.ipv4Unicast;

/** The families a session carries, as "afi/safi" keys (what End-of-RIB and graceful restart go by). */
export const negotiatedFamilies = (n: Negotiated): string[] => [
  ...(n.ipv4Unicast ? ["1/1"] : []),
  ...(n.ipv6Unicast ? ["2/1"] : []),
];
