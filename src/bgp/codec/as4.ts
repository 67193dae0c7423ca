import type { AsPathSegment, PathAttributes } from "./types.js";

/** AS_TRANS (RFC 6793 §9): the 2-octet stand-in for an AS number above 65535. */
export const asTrans = 23456;

const fitsTwoOctets = (asn: number) => asn <= 0xffff;

/** AS numbers of a path as RFC 6793 §4.2.3 counts them: an AS_SET is one. */
const asCount = (segs: readonly AsPathSegment[]) =>
  segs.reduce((n, s) => n + (s.type === "set" ? 1 : s.asns.length), 0);

/**
 * RFC 6793 §4.2.2: what goes to an OLD (2-octet) speaker. Internally a path always holds the real
 * 4-octet numbers; the AS_PATH encoder writes AS_TRANS for those above 65535, so the real path
 * must travel beside it in AS4_PATH (and AGGREGATOR's in AS4_AGGREGATOR). A path of 2-octet
 * numbers only gets no AS4_PATH (SHOULD NOT).
 */
export function forOldSpeaker(a: PathAttributes): PathAttributes {
  const { as4Path: _p, as4Aggregator: _g, ...rest } = a;
  const wide = (a.asPath ?? []).some((s) => s.asns.some((n) => !fitsTwoOctets(n)));
  const wideAggregator = a.aggregator !== undefined && !fitsTwoOctets(a.aggregator.asn);
  return {
    ...rest,
    ...(wide ? { as4Path: a.asPath } : {}),
    ...(wideAggregator ? { as4Aggregator: a.aggregator } : {}),
  };
}

/**
 * RFC 6793 §4.1: a NEW speaker never sends AS4_PATH/AS4_AGGREGATOR to another NEW speaker, and
 * discards them when one arrives from a NEW speaker (the AS_PATH already holds the real path).
 */
export function forNewSpeaker(a: PathAttributes): PathAttributes {
  if (a.as4Path === undefined && a.as4Aggregator === undefined) return a;
  const { as4Path: _p, as4Aggregator: _g, ...rest } = a;
  return rest;
}

/**
 * RFC 6793 §4.2.3: the real path of a route received from an OLD speaker, from its AS_PATH
 * (2-octet, AS_TRANS where a number did not fit) and the AS4_PATH it carried through. The result
 * holds no AS4_* attributes: they are folded into AS_PATH and AGGREGATOR.
 */
export function mergeFromOldSpeaker(a: PathAttributes): PathAttributes {
  const { as4Path, as4Aggregator, ...rest } = a;
  if (as4Path === undefined && as4Aggregator === undefined) return a;
  // An AGGREGATOR that is not AS_TRANS means an OLD speaker aggregated after the AS4_* were made:
  // both AS4 attributes are stale and ignored.
  if (rest.aggregator && rest.aggregator.asn !== asTrans) return rest;
  const out: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = { ...rest };
  if (rest.aggregator && as4Aggregator) out.aggregator = as4Aggregator;
  const path = rest.asPath ?? [];
  if (as4Path === undefined || asCount(path) < asCount(as4Path)) return out;
  // Keep as many leading AS numbers of AS_PATH as AS4_PATH lacks, then AS4_PATH.
  let missing = asCount(path) - asCount(as4Path);
  const lead: AsPathSegment[] = [];
  for (const s of path) {
    if (missing === 0) break;
    if (s.type === "set") {
      lead.push(s);
      missing--;
    } else {
      const take = s.asns.slice(0, missing);
      lead.push({ type: "sequence", asns: take });
      missing -= take.length;
    }
  }
  const merged = [...lead, ...as4Path];
  // A sequence split above joins its continuation again (one segment, as it was sent).
  const joined: AsPathSegment[] = [];
  for (const s of merged) {
    const last = joined.at(-1);
    if (last?.type === "sequence" && s.type === "sequence" && last.asns.length + s.asns.length <= 255)
      joined[joined.length - 1] = { type: "sequence", asns: [...last.asns, ...s.asns] };
    else joined.push(s);
  }
  out.asPath = joined;
  return out;
}
