import { encodeMessage } from "../../src/bgp/codec/messages.js";
import type { BgpMessage, UpdateMessage } from "../../src/bgp/codec/types.js";
import { canonicalCidr } from "../../src/common/cidr.js";

/** Random and mutated BGP messages for fuzzing, from a seeded PRNG so failures reproduce. */

export function randomUpdate(r: () => number): UpdateMessage {
  const int = (n: number) => Math.floor(r() * n);
  const v4 = () => `${10 + int(100)}.${int(256)}.${int(256)}.0/${16 + int(9)}`;
  return {
    type: "update",
    withdrawn: Array.from({ length: int(4) }, () => canonicalCidr(v4())),
    attributes: {
      origin: (["igp", "egp", "incomplete"] as const)[int(3)],
      asPath: [{ type: "sequence", asns: Array.from({ length: 1 + int(5) }, () => 1 + int(4_000_000_000)) }],
      nextHop: `192.0.2.${1 + int(250)}`,
      ...(r() < 0.5 ? { med: int(1000) } : {}),
      ...(r() < 0.5 ? { localPref: int(1000) } : {}),
      ...(r() < 0.3 ? { communities: [int(2 ** 32)] } : {}),
      ...(r() < 0.3 ? { originatorId: "10.0.0.1", clusterList: ["10.0.0.2"] } : {}),
    },
    nlri: Array.from({ length: 1 + int(5) }, () => canonicalCidr(v4())),
  };
}

/** Well-formed messages of every type to mutate. */
export function seedMessages(r: () => number): Uint8Array[] {
  const ctx = { fourOctetAs: true };
  return [
    encodeMessage({ type: "keepalive" }, ctx),
    encodeMessage(
      {
        type: "open",
        version: 4,
        asn: 65001,
        holdTime: 90,
        bgpId: "1.2.3.4",
        capabilities: [
          { kind: "multiprotocol", afi: 1, safi: 1 },
          { kind: "four-octet-as", asn: 65001 },
        ],
      } as BgpMessage,
      ctx,
    ),
    encodeMessage({ type: "notification", code: 6, subcode: 4, data: Uint8Array.of(1) }, ctx),
    encodeMessage({ type: "route-refresh", afi: 1, safi: 1 }, ctx),
    ...Array.from({ length: 20 }, () => encodeMessage(randomUpdate(r), ctx)),
  ];
}

/** One fuzz case: random bytes (10 %) or a seed with bit flips, byte changes and truncation. */
export function mutatedMessage(r: () => number, seeds: readonly Uint8Array[]): Uint8Array {
  const seed = seeds[Math.floor(r() * seeds.length)] as Uint8Array;
  const how = r();
  if (how < 0.1) return Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
  let m = Uint8Array.from(seed);
  const flips = 1 + Math.floor(r() * 4);
  for (let k = 0; k < flips; k++) {
    // Mostly after the marker, so mutations reach the decoders behind the header checks.
    const at = 16 + Math.floor(r() * Math.max(1, m.length - 16));
    m[at] = how < 0.6 ? (m[at] ?? 0) ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
  }
  if (how > 0.9) m = m.subarray(0, Math.floor(r() * m.length));
  // Keep the length field consistent half of the time so the body decoders get exercised.
  if (r() < 0.5 && m.length >= 19) {
    m[16] = m.length >> 8;
    m[17] = m.length & 0xff;
  }
  return m;
}
