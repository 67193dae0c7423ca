import { encodeMessage } from "../codec/messages.js";
import type { Prefix } from "../codec/prefix.js";
import type { CodecContext, PathAttributes, UpdateMessage } from "../codec/types.js";

const maxLength = 4096;
/** Octets one prefix takes in NLRI: a length octet and the significant bytes (RFC 4271 §4.3). */
const prefixOctets = (p: Prefix): number => 1 + Math.ceil(Number(p.split("/")[1] ?? 32) / 8);
const isV6 = (p: Prefix) => p.includes(":");

/** Split `items` into runs whose octets fit within `room`. */
function pack(items: readonly Prefix[], room: number): Prefix[][] {
  const runs: Prefix[][] = [];
  let run: Prefix[] = [];
  let used = 0;
  for (const p of items) {
    const n = prefixOctets(p);
    if (used + n > room && run.length > 0) {
      runs.push(run);
      run = [];
      used = 0;
    }
    run.push(p);
    used += n;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Pure: the encoded UPDATEs that announce `prefixes` with `attributes`, as few as fit in 4,096
 * octets each. IPv4 goes in the NLRI field (needs NEXT_HOP); IPv6 in MP_REACH_NLRI with
 * `v6NextHop` (RFC 4760): one global address, or a global and a link-local one (RFC 2545 §3).
 */
export function announceUpdates(
  attributes: PathAttributes,
  prefixes: readonly Prefix[],
  ctx: CodecContext,
  v6NextHop?: string | readonly string[],
  v4ViaV6NextHop?: readonly string[],
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v4 = prefixes.filter((p) => !isV6(p));
  const v6 = prefixes.filter(isV6);
  if (v4.length > 0 && v4ViaV6NextHop && v4ViaV6NextHop.length > 0) {
    // RFC 8950: IPv4 NLRI in MP_REACH_NLRI (AFI 1) with IPv6 next hops, no NEXT_HOP attribute.
    out.push(...reachUpdates(attributes, v4, 1, v4ViaV6NextHop, ctx));
  } else if (v4.length > 0) {
    const attrs: PathAttributes = { ...attributes, mpReach: undefined, mpUnreach: undefined };
    const base = encodeMessage({ type: "update", withdrawn: [], attributes: attrs, nlri: [] }, ctx).length;
    for (const run of pack(v4, maxLength - base)) {
      out.push(encodeMessage({ type: "update", withdrawn: [], attributes: attrs, nlri: run }, ctx));
    }
  }
  if (v6.length > 0) {
    const nextHops = typeof v6NextHop === "string" ? [v6NextHop] : (v6NextHop ?? []);
    if (nextHops.length === 0) throw new Error("announcing IPv6 prefixes needs an IPv6 next hop");
    out.push(...reachUpdates(attributes, v6, 2, nextHops, ctx));
  }
  return out;
}

/** UPDATEs carrying `prefixes` of `afi` in MP_REACH_NLRI with `nextHops`, packed full. */
function reachUpdates(
  attributes: PathAttributes,
  prefixes: readonly Prefix[],
  afi: 1 | 2,
  nextHops: readonly string[],
  ctx: CodecContext,
): Uint8Array[] {
  const { nextHop: _nh, ...rest } = attributes;
  const withReach = (nlri: Prefix[]): UpdateMessage => ({
    type: "update",
    withdrawn: [],
    attributes: { ...rest, mpReach: { afi, safi: 1, nextHops, nlri } },
    nlri: [],
  });
  const base = encodeMessage(withReach([]), ctx).length + 2; // room for an extended length
  return pack(prefixes, maxLength - base).map((run) => encodeMessage(withReach(run), ctx));
}

/** Pure: the encoded UPDATEs that withdraw `prefixes` (IPv6 through MP_UNREACH_NLRI). */
export function withdrawUpdates(prefixes: readonly Prefix[], ctx: CodecContext): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v4 = prefixes.filter((p) => !isV6(p));
  const v6 = prefixes.filter(isV6);
  const empty = encodeMessage({ type: "update", withdrawn: [], attributes: {}, nlri: [] }, ctx).length;
  for (const run of pack(v4, maxLength - empty)) {
    out.push(encodeMessage({ type: "update", withdrawn: run, attributes: {}, nlri: [] }, ctx));
  }
  const unreach = (withdrawn: Prefix[]): UpdateMessage => ({
    type: "update",
    withdrawn: [],
    attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn } },
    nlri: [],
  });
  const base = encodeMessage(unreach([]), ctx).length + 2;
  for (const run of pack(v6, maxLength - base)) out.push(encodeMessage(unreach(run), ctx));
  return out;
}
