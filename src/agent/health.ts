import type { ClusterStatus } from "./cluster-agent.js";

/** What /healthz answers: ok, and each reason it is not, in words an operator can act on. */
export interface HealthVerdict {
  readonly ok: boolean;
  readonly problems: string[];
}

/** What /readyz answers (Flannel's readiness): the node can take pods. */
export interface ReadinessVerdict {
  readonly ready: boolean;
  readonly waitingFor: string[];
}

const listed = (items: string[], max = 5): string[] =>
  items.length <= max ? items : [...items.slice(0, max), `and ${items.length - max} more`];

/**
 * Pure: is the node healthy? Not when it has no subnet, its own lease is rejected or gone, the last
 * reconcile failed, a route to a peer is missing from the kernel, or the datastore has been
 * unreachable longer than its limit. A peer whose agent is not alive is shown, but is that peer's
 * problem, not this node's: its routes stay (its kernel still forwards).
 */
export function assessHealth(s: ClusterStatus | undefined, nowMs: number): HealthVerdict {
  if (!s) return { ok: true, problems: [] }; // a CNI-only agent: serving is all it does
  const problems: string[] = [];
  if (!s.subnet) problems.push("no subnet leased yet");
  if (s.ownLeaseRejected) problems.push(`this node's own subnet lease is rejected: ${s.ownLeaseRejected}`);
  if (s.ownership) problems.push(s.ownership);
  if (s.lastReconcile && !s.lastReconcile.ok)
    problems.push(`the last reconcile failed: ${s.lastReconcile.error ?? "unknown error"}`);
  problems.push(
    ...listed(
      s.missingRoutes.map(
        (r) =>
          `route to ${r.node ? `node ${r.node} ` : ""}${r.dst}${r.via ? ` via ${r.via}` : ""} is missing from the kernel`,
      ),
    ),
  );
  const since = s.datastore.unreachableSince;
  if (since !== undefined) {
    const down = Math.floor((nowMs - Date.parse(since)) / 1000);
    if (down >= s.datastore.timeoutSeconds)
      problems.push(
        `the datastore has been unreachable for ${down} s (limit ${s.datastore.timeoutSeconds} s, --datastore-timeout): routes are kept but no longer follow the cluster`,
      );
  }
  return { ok: problems.length === 0, problems };
}

/** Pure: ready = subnet leased, CNI conflist written (when there is a state directory), first reconcile done. */
export function assessReadiness(s: ClusterStatus | undefined): ReadinessVerdict {
  if (!s) return { ready: true, waitingFor: [] };
  const waitingFor: string[] = [];
  if (!s.subnet) waitingFor.push("a subnet lease");
  if (s.conflist === "pending") waitingFor.push("the CNI conflist to be written");
  if (!s.firstReconcileAt) waitingFor.push("the first reconcile pass");
  return { ready: waitingFor.length === 0, waitingFor };
}
