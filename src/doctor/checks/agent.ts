import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";

/** The agent answers on its health port and says it is healthy (its own /healthz verdict). */
export function checkAgentHealth(f: NodeFacts): Verdict {
  const a = f.agent;
  if (a.httpStatus === undefined)
    return problem(
      "agent health",
      f.node,
      "agent-unreachable",
      `no agent answers on 127.0.0.1:${a.port}${a.error ? ` (${a.error})` : ""}`,
      "start `strata agent` on this node (or give doctor its --health-port)",
    );
  const problems = a.health?.problems ?? [];
  if (a.httpStatus !== 200 || a.health?.ok === false)
    return problem(
      "agent health",
      f.node,
      "agent-unhealthy",
      `the agent answers ${a.httpStatus}: ${problems.join("; ") || "no reason given"}`,
      "fix what the agent names (its log says more)",
    );
  return ok(
    "agent health",
    f.node,
    `agent healthy (subnet ${a.health?.subnet ?? "?"}, ${a.health?.model ?? "?"})`,
  );
}

/**
 * The last reconcile succeeded, and not long ago: the agent repairs every --resync-interval, so
 * a pass older than three intervals (and a minute) means the loop is stuck.
 */
export function checkReconcile(f: NodeFacts): Verdict {
  const h = f.agent.health;
  if (!h) return skipped("reconcile", f.node, "no agent status to read");
  const last = h.lastReconcile;
  if (!last)
    return problem(
      "reconcile",
      f.node,
      "reconcile-stale",
      "the agent has not reconciled yet",
      "wait for its first pass; if it does not come, the agent log says why",
    );
  const age = Math.round((f.nowMs - Date.parse(last.at)) / 1000);
  if (!last.ok)
    return problem(
      "reconcile",
      f.node,
      "reconcile-stale",
      `the last reconcile (${age} s ago) failed: ${last.error ?? "unknown error"}`,
      "fix what the error names; the agent retries every resync interval",
    );
  const limit = Math.max(60, 3 * (h.resyncSeconds ?? 10));
  if (age > limit)
    return problem(
      "reconcile",
      f.node,
      "reconcile-stale",
      `the last successful reconcile was ${age} s ago (more than ${limit} s; resync every ${h.resyncSeconds ?? "?"} s)`,
      "the agent's loop is stuck: look at its log, restart it",
    );
  return ok("reconcile", f.node, `last reconcile ok, ${age} s ago`);
}
