import type { PeerInfo } from "../../bgp/rib/path.js";
import type { ImportScope } from "../../bgp/rib/rib.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { canonicalAddress } from "../../common/cidr.js";
import { type ClusterPolicy, leaseClaims, overlapsAny } from "./cluster-import.js";

/**
 * Pure: which routes the cluster import policy built from `after` may judge differently from the
 * one built from `before` — "none" (the same leases: keep the policy), "all" (run every route
 * through it again), or the routes to run again.
 *
 * A verdict on prefix P from speaker S (cluster-import.ts) reads: this node's lease (overlap);
 * the lease whose subnet P is (its node, subnet, address: the next hop it must have); when P is
 * nobody's subnet, every lease (overlap) and S's lease (what S may announce); S's lease by address;
 * the reflectors; the external peers with a list. Leases are immutable and validation hands back
 * the same object for an unchanged key (lease-validation.ts), so a lease in both sets by identity
 * is unchanged. With this node's lease, the reflectors and the external peers the same, a verdict
 * can change only when S is an address of a lease added, removed or changed; when P is not the
 * subnet of an unchanged lease but of a changed one; or when P is nobody's subnet and overlaps a
 * changed lease (one that holds or held it among them), or the unchanged leases come in another
 * order (the first one P overlaps is named). Two other leases of one set sharing a subnet, an
 * address or a node name (validation refuses that) make the policy's choice among them depend on
 * their order: "all" then. A change costs a lookup per route (and, for nobody's prefixes, a check
 * against the changed leases), not a policy run per route.
 */
export function policyScope(
  before: ClusterPolicy | undefined,
  after: ClusterPolicy,
): "none" | "all" | ImportScope {
  if (
    !before ||
    before.self !== after.self ||
    before.ambiguous ||
    after.ambiguous ||
    !sameList(before.options.routeReflectors, after.options.routeReflectors) ||
    !sameSet(before.options.externalWithList, after.options.externalWithList)
  )
    return "all";
  const was = before.leases;
  const changed: NodeLease[] = [];
  for (const n of after.leases) if (!was.has(n)) changed.push(n);
  // Leases of `before` gone from `after` (only looked for when some are).
  if (was.size > after.leases.size - changed.length)
    for (const n of was) if (!after.leases.has(n)) changed.push(n);
  if (changed.length === 0) return "none";
  const addresses = new Set<string>();
  for (const n of changed) for (const a of leaseClaims(n).addresses) addresses.add(a);
  let orderKept: boolean | undefined;
  return (prefix: string, from: PeerInfo) => {
    if (addresses.has(from.address) || addresses.has(canonicalAddress(from.address))) return true;
    const owner = after.ownerOf(prefix);
    if (owner) return !was.has(owner);
    // Nobody's prefix, from an unchanged speaker (or none): refused for the first lease it
    // overlaps in list order, or judged by what the speaker leases. The same unless it overlaps a
    // changed lease (also one that held it) or the unchanged leases come in another order.
    orderKept ??= sameOrder(before.leases, after.leases);
    return !orderKept || overlapsAny(prefix, changed) !== false;
  };
}

/** The leases in both sets come in the same order in each. */
function sameOrder(a: ReadonlySet<NodeLease>, b: ReadonlySet<NodeLease>): boolean {
  const ia = a.values();
  for (const n of b) {
    if (!a.has(n)) continue;
    let m = ia.next();
    while (!m.done && !b.has(m.value)) m = ia.next();
    if (m.done || m.value !== n) return false;
  }
  return true;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) =>
  a === b || (a.size === b.size && [...a].every((x) => b.has(x)));
