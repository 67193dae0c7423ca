import { compareAddresses, ipv4ToNumber } from "../../common/cidr.js";
import { asPathLength, neighbourAs, type Path } from "./path.js";

/**
 * The BGP decision process (RFC 4271 §9.1.2.2, with RFC 4456 §9's reflection tie-breaks) as an
 * ordered chain of small comparators, each naming the reason it decided. Negative: `a` is better.
 */
export interface Comparator {
  readonly reason: string;
  compare(a: Path, b: Path): number;
}

const originRank = { igp: 0, egp: 1, incomplete: 2 } as const;
/** RFC 4456 §9: a reflected route's ORIGINATOR_ID stands in for the BGP identifier. */
const routerIdOf = (p: Path) => p.attributes.originatorId ?? p.from?.routerId ?? "0.0.0.0";

export const decisionChain: readonly Comparator[] = [
  {
    reason: "highest LOCAL_PREF",
    compare: (a, b) => (b.attributes.localPref ?? 100) - (a.attributes.localPref ?? 100),
  },
  { reason: "locally originated", compare: (a, b) => (a.from ? 1 : 0) - (b.from ? 1 : 0) },
  { reason: "shortest AS_PATH", compare: (a, b) => asPathLength(a) - asPathLength(b) },
  {
    reason: "lowest ORIGIN",
    compare: (a, b) =>
      originRank[a.attributes.origin ?? "incomplete"] - originRank[b.attributes.origin ?? "incomplete"],
  },
  {
    // MED is compared only between routes from the same neighbouring AS (§9.1.2.2 c).
    reason: "lowest MULTI_EXIT_DISC",
    compare: (a, b) =>
      neighbourAs(a) === neighbourAs(b) ? (a.attributes.med ?? 0) - (b.attributes.med ?? 0) : 0,
  },
  { reason: "eBGP over iBGP", compare: (a, b) => (a.from?.ibgp ? 1 : 0) - (b.from?.ibgp ? 1 : 0) },
  {
    reason: "lowest BGP identifier",
    compare: (a, b) => ipv4ToNumber(routerIdOf(a)) - ipv4ToNumber(routerIdOf(b)),
  },
  {
    reason: "shortest CLUSTER_LIST",
    compare: (a, b) => (a.attributes.clusterList?.length ?? 0) - (b.attributes.clusterList?.length ?? 0),
  },
  {
    reason: "lowest peer address",
    compare: (a, b) => compareAddresses(a.from?.address ?? "0.0.0.0", b.from?.address ?? "0.0.0.0"),
  },
];

/** The best of the candidate paths for one prefix, and why it beat the runner-up. */
export function bestPath(candidates: readonly Path[]): { best?: Path; reason?: string } {
  let best: Path | undefined;
  let reason: string | undefined;
  for (const p of candidates) {
    if (!best) {
      best = p;
      continue;
    }
    for (const c of decisionChain) {
      const d = c.compare(p, best);
      if (d !== 0) {
        if (d < 0) {
          best = p;
          reason = c.reason;
        } else {
          reason ??= c.reason;
        }
        break;
      }
    }
  }
  return { best, reason };
}
