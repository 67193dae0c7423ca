import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import { ownLease } from "./model.js";

/**
 * Pure: no lease in the datastore overlaps another or claims a taken node name or address (the
 * validation every agent runs; the older lease wins), this node holds a valid lease, and it is
 * not close to expiry: renewed every TTL/3, so less than a third left means renewals failed.
 */
export function checkLeases(f: NodeFacts): Verdict[] {
  const out: Verdict[] = [];
  if (!f.cluster)
    out.push(
      skipped(
        "leases",
        f.node,
        f.clusterError ? `datastore not read: ${f.clusterError}` : "no --datastore given",
      ),
    );
  else {
    for (const r of f.cluster.rejected)
      out.push(
        problem(
          "leases",
          f.node,
          "lease-overlap",
          `lease ${r.key}${r.node ? ` of ${r.node}` : ""} is not used: ${r.reason} (${r.detail})`,
          r.winner
            ? `the older ${r.winner} keeps the claim: remove the newer with \`strata node remove ${r.node ?? "NODE"}\``
            : "remove or correct the key in the datastore",
          r.node,
        ),
      );
    if (!ownLease(f) && f.agent.health?.node)
      out.push(
        problem(
          "leases",
          f.node,
          "lease-expiring",
          `${f.node} holds no valid lease in the datastore: its pods are unreachable from other nodes`,
          "restart the agent so it leases its subnet again",
        ),
      );
  }
  const lease = f.agent.health?.lease;
  if (lease) {
    const left = Math.round((Date.parse(lease.renewedAt) + lease.ttlSeconds * 1000 - f.nowMs) / 1000);
    if (left < lease.ttlSeconds / 3)
      out.push(
        problem(
          "leases",
          f.node,
          "lease-expiring",
          `${f.node}'s subnet lease expires in ${Math.max(0, left)} s (TTL ${lease.ttlSeconds} s, renewed ${lease.renewedAt}): renewals are failing`,
          "make the datastore reachable from this node; the agent renews at once when it is",
        ),
      );
  }
  if (out.length === 0 && f.cluster)
    out.push(
      ok(
        "leases",
        f.node,
        `${f.cluster.leases.length} leases, none overlapping${lease ? `; own renewed ${Math.round((f.nowMs - Date.parse(lease.renewedAt)) / 1000)} s ago (TTL ${lease.ttlSeconds} s)` : ""}`,
      ),
    );
  return out;
}
