import { asTrans } from "./as4.js";
import { BgpCodecError, type ErrorAction, UpdateSubcode } from "./errors.js";
import { decodeAddress, decodePrefixes, encodeAddress, encodePrefixes } from "./prefix.js";
import type { AsPathSegment, CodecContext, PathAttributes } from "./types.js";

export const Flag = { Optional: 0x80, Transitive: 0x40, Partial: 0x20, ExtendedLength: 0x10 } as const;

/** Raised by an attribute decoder: the RFC 7606 action for this attribute's malformation. */
class AttrError extends Error {
  constructor(
    readonly subcode: number,
    readonly action: ErrorAction,
    message: string,
  ) {
    super(message);
  }
}
const bad = (subcode: number, action: ErrorAction, message: string) =>
  new AttrError(subcode, action, message);

const u32 = (b: Uint8Array, i = 0) =>
  (((b[i] ?? 0) << 24) >>> 0) + ((b[i + 1] ?? 0) << 16) + ((b[i + 2] ?? 0) << 8) + (b[i + 3] ?? 0);
const be32 = (n: number) => Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const be16 = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};

function decodeAsPath(b: Uint8Array, asSize: 2 | 4, subcode: number): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  let i = 0;
  while (i < b.length) {
    const type = b[i];
    const count = b[i + 1] ?? 0;
    if ((type !== 1 && type !== 2) || count === 0 || i + 2 + count * asSize > b.length) {
      throw bad(subcode, "treat-as-withdraw", "malformed AS_PATH segment");
    }
    const asns: number[] = [];
    for (let k = 0; k < count; k++) {
      const at = i + 2 + k * asSize;
      asns.push(asSize === 4 ? u32(b, at) : ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0));
    }
    segs.push({ type: type === 1 ? "set" : "sequence", asns });
    i += 2 + count * asSize;
  }
  return segs;
}

function encodeAsPath(segs: readonly AsPathSegment[], asSize: 2 | 4): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of segs) {
    parts.push(Uint8Array.of(s.type === "set" ? 1 : 2, s.asns.length));
    // Without 4-octet support an AS above 65535 is sent as AS_TRANS (RFC 6793 §4.2.2).
    for (const a of s.asns) parts.push(asSize === 4 ? be32(a) : be16(a > 0xffff ? asTrans : a));
  }
  return cat(...parts);
}

const afiFamily = (afi: number): 4 | 6 => (afi === 2 ? 6 : 4);
/** IPv4 or IPv6, unicast or multicast: NLRI that are plain prefixes (RFC 4760 §5). */
export const plainFamily = (afi: number, safi: number): boolean =>
  (afi === 1 || afi === 2) && (safi === 1 || safi === 2);

/** One row per attribute: its code, the flags it must carry, and its codec (BIRD's attrs.c shape). */
interface AttributeRow<K extends keyof PathAttributes> {
  readonly code: number;
  readonly key: K;
  /** Optional and Transitive bits a sender must set (Partial and Extended Length aside). */
  readonly flags: number;
  readonly decode: (b: Uint8Array, ctx: CodecContext) => NonNullable<PathAttributes[K]>;
  readonly encode: (v: NonNullable<PathAttributes[K]>, ctx: CodecContext) => Uint8Array;
}

const row = <K extends keyof PathAttributes>(r: AttributeRow<K>) => r;
const origins = ["igp", "egp", "incomplete"] as const;

export const attributeTable = [
  row({
    code: 1,
    key: "origin",
    flags: Flag.Transitive,
    decode: (b) => {
      const v = b[0] ?? 255;
      if (b.length !== 1 || v > 2)
        throw bad(UpdateSubcode.InvalidOriginAttribute, "treat-as-withdraw", "invalid ORIGIN");
      return origins[v] as "igp";
    },
    encode: (v) => Uint8Array.of(origins.indexOf(v)),
  }),
  row({
    code: 2,
    key: "asPath",
    flags: Flag.Transitive,
    decode: (b, ctx) => decodeAsPath(b, ctx.fourOctetAs ? 4 : 2, UpdateSubcode.MalformedAsPath),
    encode: (v, ctx) => encodeAsPath(v, ctx.fourOctetAs ? 4 : 2),
  }),
  row({
    code: 3,
    key: "nextHop",
    flags: Flag.Transitive,
    decode: (b) => {
      if (b.length !== 4)
        throw bad(UpdateSubcode.InvalidNextHopAttribute, "treat-as-withdraw", "NEXT_HOP is not 4 octets");
      return decodeAddress(b, 4);
    },
    encode: (v) => encodeAddress(v, 4),
  }),
  row({
    code: 4,
    key: "med",
    flags: Flag.Optional,
    decode: (b) => {
      if (b.length !== 4)
        throw bad(UpdateSubcode.AttributeLengthError, "treat-as-withdraw", "MULTI_EXIT_DISC is not 4 octets");
      return u32(b);
    },
    encode: (v) => be32(v),
  }),
  row({
    code: 5,
    key: "localPref",
    flags: Flag.Transitive,
    decode: (b) => {
      if (b.length !== 4)
        throw bad(UpdateSubcode.AttributeLengthError, "treat-as-withdraw", "LOCAL_PREF is not 4 octets");
      return u32(b);
    },
    encode: (v) => be32(v),
  }),
  row({
    code: 6,
    key: "atomicAggregate",
    flags: Flag.Transitive,
    decode: (b) => {
      if (b.length !== 0)
        throw bad(UpdateSubcode.AttributeLengthError, "attribute-discard", "ATOMIC_AGGREGATE has a body");
      return true;
    },
    encode: () => new Uint8Array(),
  }),
  row({
    code: 7,
    key: "aggregator",
    flags: Flag.Optional | Flag.Transitive,
    decode: (b, ctx) => {
      const n = ctx.fourOctetAs ? 4 : 2;
      if (b.length !== n + 4)
        throw bad(UpdateSubcode.AttributeLengthError, "attribute-discard", "AGGREGATOR has the wrong length");
      return {
        asn: n === 4 ? u32(b) : ((b[0] ?? 0) << 8) | (b[1] ?? 0),
        address: decodeAddress(b.subarray(n), 4),
      };
    },
    encode: (v, ctx) =>
      cat(
        ctx.fourOctetAs ? be32(v.asn) : be16(v.asn > 0xffff ? asTrans : v.asn),
        encodeAddress(v.address, 4),
      ),
  }),
  row({
    code: 8,
    key: "communities",
    flags: Flag.Optional | Flag.Transitive,
    decode: (b) => {
      if (b.length % 4 !== 0)
        throw bad(
          UpdateSubcode.AttributeLengthError,
          "treat-as-withdraw",
          "COMMUNITIES length is not a multiple of 4",
        );
      return Array.from({ length: b.length / 4 }, (_, i) => u32(b, i * 4));
    },
    encode: (v) => cat(...v.map(be32)),
  }),
  row({
    code: 9,
    key: "originatorId",
    flags: Flag.Optional,
    decode: (b) => {
      if (b.length !== 4)
        throw bad(UpdateSubcode.AttributeLengthError, "treat-as-withdraw", "ORIGINATOR_ID is not 4 octets");
      return decodeAddress(b, 4);
    },
    encode: (v) => encodeAddress(v, 4),
  }),
  row({
    code: 10,
    key: "clusterList",
    flags: Flag.Optional,
    decode: (b) => {
      if (b.length % 4 !== 0 || b.length === 0)
        throw bad(
          UpdateSubcode.AttributeLengthError,
          "treat-as-withdraw",
          "CLUSTER_LIST length is not a multiple of 4",
        );
      return Array.from({ length: b.length / 4 }, (_, i) => decodeAddress(b.subarray(i * 4, i * 4 + 4), 4));
    },
    encode: (v) => cat(...v.map((a) => encodeAddress(a, 4))),
  }),
  row({
    code: 14,
    key: "mpReach",
    flags: Flag.Optional,
    decode: (b) => {
      // RFC 7606 §7.11: a malformed MP_REACH_NLRI cannot be treated as withdraw (its NLRI is unknown).
      if (b.length < 5)
        throw bad(UpdateSubcode.OptionalAttributeError, "session-reset", "MP_REACH_NLRI too short");
      const afi = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
      const safi = b[2] ?? 0;
      const nhLen = b[3] ?? 0;
      if (4 + nhLen + 1 > b.length)
        throw bad(
          UpdateSubcode.OptionalAttributeError,
          "session-reset",
          "MP_REACH_NLRI next hop overruns it",
        );
      // A family whose NLRI we cannot read (labelled, VPN, EVPN...): never negotiated, so the
      // speaker ignores it (RFC 4760 §7); its contents are not parsed at all.
      if (!plainFamily(afi, safi)) return { afi, safi, nextHops: [], nlri: [] };
      // IPv4 NLRI: a 4-octet next hop, or an IPv6 one (RFC 8950); IPv6: a global and maybe a link-local one (RFC 2545).
      const size = nhLen === 4 && afi === 1 ? 4 : 16;
      if (nhLen === 0 || nhLen % size !== 0 || nhLen > 2 * size) {
        throw bad(
          UpdateSubcode.OptionalAttributeError,
          "session-reset",
          "MP_REACH_NLRI next hop length is invalid",
        );
      }
      const nextHops = Array.from({ length: nhLen / size }, (_, i) =>
        decodeAddress(b.subarray(4 + i * size, 4 + (i + 1) * size), size === 4 ? 4 : 6),
      );
      let nlri: string[];
      try {
        nlri = decodePrefixes(b.subarray(4 + nhLen + 1), afiFamily(afi));
      } catch {
        throw bad(
          UpdateSubcode.OptionalAttributeError,
          "session-reset",
          "MP_REACH_NLRI prefixes are malformed",
        );
      }
      return { afi, safi, nextHops, nlri };
    },
    encode: (v) => {
      const nh = cat(...v.nextHops.map((a) => encodeAddress(a, a.includes(":") ? 6 : 4)));
      return cat(
        be16(v.afi),
        Uint8Array.of(v.safi, nh.length),
        nh,
        Uint8Array.of(0),
        encodePrefixes(v.nlri, afiFamily(v.afi)),
      );
    },
  }),
  row({
    code: 15,
    key: "mpUnreach",
    flags: Flag.Optional,
    decode: (b) => {
      if (b.length < 3)
        throw bad(UpdateSubcode.OptionalAttributeError, "session-reset", "MP_UNREACH_NLRI too short");
      const afi = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
      const safi = b[2] ?? 0;
      if (!plainFamily(afi, safi)) return { afi, safi, withdrawn: [] };
      try {
        return { afi, safi, withdrawn: decodePrefixes(b.subarray(3), afiFamily(afi)) };
      } catch {
        throw bad(
          UpdateSubcode.OptionalAttributeError,
          "session-reset",
          "MP_UNREACH_NLRI prefixes are malformed",
        );
      }
    },
    encode: (v) => cat(be16(v.afi), Uint8Array.of(v.safi), encodePrefixes(v.withdrawn, afiFamily(v.afi))),
  }),
  row({
    code: 17,
    key: "as4Path",
    flags: Flag.Optional | Flag.Transitive,
    // RFC 6793 §6: a malformed AS4_PATH is discarded, not the route.
    decode: (b) => {
      try {
        return decodeAsPath(b, 4, UpdateSubcode.MalformedAsPath);
      } catch {
        throw bad(UpdateSubcode.OptionalAttributeError, "attribute-discard", "malformed AS4_PATH");
      }
    },
    encode: (v) => encodeAsPath(v, 4),
  }),
  row({
    code: 18,
    key: "as4Aggregator",
    flags: Flag.Optional | Flag.Transitive,
    decode: (b) => {
      if (b.length !== 8)
        throw bad(
          UpdateSubcode.OptionalAttributeError,
          "attribute-discard",
          "AS4_AGGREGATOR is not 8 octets",
        );
      return { asn: u32(b), address: decodeAddress(b.subarray(4), 4) };
    },
    encode: (v) => cat(be32(v.asn), encodeAddress(v.address, 4)),
  }),
] as const;

const byCode = new Map<number, AttributeRow<keyof PathAttributes>>(
  attributeTable.map((r) => [r.code, r as unknown as AttributeRow<keyof PathAttributes>]),
);

export { AttrError, be16, cat };

export function findAttribute(code: number): AttributeRow<keyof PathAttributes> | undefined {
  return byCode.get(code);
}

export function encodeAttribute(flags: number, code: number, body: Uint8Array): Uint8Array {
  const extended = body.length > 255;
  const f = (flags & ~Flag.ExtendedLength) | (extended ? Flag.ExtendedLength : 0);
  return cat(Uint8Array.of(f, code), extended ? be16(body.length) : Uint8Array.of(body.length), body);
}

export { BgpCodecError };
