import type { Prefix } from "../codec/prefix.js";
import type { PathAttributes } from "../codec/types.js";
import type { PeerInfo } from "./path.js";
import { formatPrefixRange, isDefaultRoute, type PrefixRange, rangeMatches } from "./prefix-list.js";

/**
 * Import policy (RFC 4271 §9.1, Phase 1): decides which routes of a peer's Adj-RIB-In may enter
 * the decision process. undefined accepts; a string rejects and says why. Pure and cheap: it runs
 * once per received prefix and again over the Adj-RIBs-In when the policy itself changes.
 */
export type ImportPolicy = (from: PeerInfo, prefix: Prefix, attributes: PathAttributes) => string | undefined;

export const acceptAll: ImportPolicy = () => undefined;

/**
 * The NEXT_HOP a route would be installed with: the first MP_REACH next hop for IPv6, and for
 * IPv4 carried in MP_REACH_NLRI (RFC 8950: possibly an IPv6 one); else the IPv4 NEXT_HOP.
 */
export const routeNextHop = (prefix: Prefix, a: PathAttributes): string | undefined =>
  prefix.includes(":") || a.mpReach?.afi === 1 ? a.mpReach?.nextHops[0] : a.nextHop;

/**
 * Pure: what a peer's own configuration allows. A default route is refused unless the list names
 * it exactly (0.0.0.0/0 or ::/0 with no ge/le): capturing all traffic takes an explicit decision.
 * With a list, only prefixes inside one of its ranges pass; without one, every other prefix does
 * (further policies, such as the cluster's, may still refuse it).
 */
export function prefixListVerdict(
  list: readonly PrefixRange[] | undefined,
  prefix: Prefix,
): string | undefined {
  if (isDefaultRoute(prefix)) {
    const named = list?.some((r) => r.prefix === prefix && r.le === 0);
    return named ? undefined : "default route (list 0.0.0.0/0 exactly in import= to accept one)";
  }
  if (!list) return undefined;
  if (list.some((r) => rangeMatches(r, prefix))) return undefined;
  return `not in the peer's import list (${list.map(formatPrefixRange).join(", ") || "empty"})`;
}

/** Both policies must accept; the first refusal's reason is kept. */
export const bothPolicies =
  (a: ImportPolicy, b: ImportPolicy): ImportPolicy =>
  (from, prefix, attributes) =>
    a(from, prefix, attributes) ?? b(from, prefix, attributes);
