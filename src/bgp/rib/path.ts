import type { PathAttributes } from "../codec/types.js";

/** Who a route was learned from; what the decision process and reflection rules need. */
export interface PeerInfo {
  readonly id: string;
  /** The peer's BGP identifier. */
  readonly routerId: string;
  readonly address: string;
  readonly asn: number;
  /** iBGP when the peer's AS is ours. */
  readonly ibgp: boolean;
  /** A route-reflector client of ours (RFC 4456). */
  readonly rrClient: boolean;
}

/**
 * A route's source and attributes, without its prefix (the table's key): every prefix a peer
 * announced with one attribute set holds the same Path object (rib.ts), so a table of 100,000
 * routes from 100 peers holds about 100 Paths, not 100,000.
 */
export interface Path {
  readonly attributes: PathAttributes;
  /** undefined: originated by this speaker. */
  readonly from?: PeerInfo;
}

/** The AS numbers of a path in order, AS_SETs counting as one hop each (RFC 4271 §9.1.2.2 a). */
export function asPathLength(p: Path): number {
  return (p.attributes.asPath ?? []).reduce((n, s) => n + (s.type === "set" ? 1 : s.asns.length), 0);
}

/** The neighbouring AS for MED comparison: the first AS of the path (or ours when empty). */
export function neighbourAs(p: Path): number | undefined {
  const first = p.attributes.asPath?.[0];
  return first?.type === "sequence" ? first.asns[0] : undefined;
}
