import type { Capability } from "./types.js";

type ExtendedNextHop = Extract<Capability, { kind: "extended-next-hop" }>;

const u16 = (v: Uint8Array, k: number) => ((v[k] ?? 0) << 8) | (v[k + 1] ?? 0);

/**
 * Pure: the Extended Next Hop Encoding capability's value (RFC 8950 §3, code 5): one 6-octet
 * entry per NLRI AFI (2), NLRI SAFI (2), next hop AFI (2). The caller hands over only a length
 * that is a non-zero multiple of 6; anything else stays an unknown capability.
 */
export function decodeExtendedNextHop(v: Uint8Array): ExtendedNextHop {
  const entries = [];
  for (let k = 0; k + 6 <= v.length; k += 6)
    entries.push({ afi: u16(v, k), safi: u16(v, k + 2), nextHopAfi: u16(v, k + 4) });
  return { kind: "extended-next-hop", entries };
}

export function encodeExtendedNextHop(c: ExtendedNextHop): Uint8Array {
  const out = new Uint8Array(c.entries.length * 6);
  c.entries.forEach((e, i) => {
    for (const [k, n] of [e.afi, e.safi, e.nextHopAfi].entries()) {
      out[i * 6 + k * 2] = (n >> 8) & 0xff;
      out[i * 6 + k * 2 + 1] = n & 0xff;
    }
  });
  return out;
}
