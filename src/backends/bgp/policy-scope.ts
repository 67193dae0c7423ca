import type { PeerInfo } from "../../bgp/rib/path.js";
import type { ImportScope } from "../../bgp/rib/rib.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { canonicalAddress } from "../../common/cidr.js";
import { leaseClaims } from "./cluster-import.js";

/** What clusterImportPolicy is built from. */
export interface PolicyInputs {
  readonly self: NodeLease;
  /** Every node's lease, this node's among them. */
  readonly leases: readonly NodeLease[];
  readonly routeReflectors: readonly string[];
  readonly externalWithList: ReadonlySet<string>;
}

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
 * can change only when P is a subnet of a lease added, removed or changed, when P is no unchanged
 * lease's subnet (nobody's, or its owner's lease changed: run again always — rare), or when S is
 * an address of a lease added, removed or changed (a changed lease's subnets are never an
 * unchanged one's, short of a duplicate in `before`: checked anyway, it costs a lookup). Two leases of one set sharing a subnet, an
 * address or a node (validation refuses that) make the policy's choice among them depend on
 * their order: "all" then.
 */
export function policyScope(
  before: PolicyInputs | undefined,
  after: PolicyInputs,
): "none" | "all" | ImportScope {
  if (
    !before ||
    before.self !== after.self ||
    !sameList(before.routeReflectors, after.routeReflectors) ||
    !sameSet(before.externalWithList, after.externalWithList)
  )
    return "all";
  if (before.leases === after.leases) return "none";
  const was = new Set(before.leases);
  const changed: NodeLease[] = [];
  const kept = new Set<string>(); // the subnets of the leases unchanged
  const subnets = new Set<string>();
  const addresses = new Set<string>();
  const nodes = new Set<string>();
  let dropped = was.size; // leases of `before` not seen in `after`
  for (const n of after.leases) {
    const c = leaseClaims(n);
    for (const s of c.subnets) {
      if (subnets.has(s)) return "all";
      subnets.add(s);
    }
    for (const a of c.addresses) {
      if (addresses.has(a)) return "all";
      addresses.add(a);
    }
    if (nodes.has(n.node)) return "all";
    nodes.add(n.node);
    if (was.has(n)) {
      dropped--;
      for (const s of c.subnets) kept.add(s);
    } else changed.push(n);
  }
  if (dropped > 0) {
    const now = new Set(after.leases);
    for (const n of before.leases) if (!now.has(n)) changed.push(n);
  }
  if (changed.length === 0) return "none";
  const changedSubnets = new Set<string>();
  const changedAddresses = new Set<string>();
  for (const n of changed) {
    const c = leaseClaims(n);
    for (const s of c.subnets) changedSubnets.add(s);
    for (const a of c.addresses) changedAddresses.add(a);
  }
  return (prefix: string, from: PeerInfo) =>
    !kept.has(prefix) ||
    changedSubnets.has(prefix) ||
    changedAddresses.has(from.address) ||
    changedAddresses.has(canonicalAddress(from.address));
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) =>
  a === b || (a.size === b.size && [...a].every((x) => b.has(x)));
