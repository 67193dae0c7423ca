import type { Kernel } from "../src/kernel/api.js";
import { agentHealth } from "../src/lab/agent-health.js";
import type { LabState } from "../src/lab/state.js";
import { median } from "./stats.js";

/** /healthz's routeChanges (the agent's BGP route-change passes; issue 16, fourth pass). */
export interface RouteChangeCounters {
  signals: number;
  passes: number;
  kernelBatches: number;
  latency?: { samples: number; medianMs: number; p90Ms: number; maxMs: number };
}

/** Per-agent medians (and the worst) of the route-change counters. */
export function routeChangeLine(cs: readonly { routes?: RouteChangeCounters }[]): string {
  const rs = cs.flatMap((c) => (c.routes ? [c.routes] : []));
  if (rs.length === 0) return "route changes: none reported";
  const m = (f: (r: RouteChangeCounters) => number) => median(rs.map(f));
  const worst = Math.max(...rs.map((r) => r.latency?.maxMs ?? 0));
  return `route changes per agent (median): ${m((r) => r.signals)} signals, ${m((r) => r.passes)} passes applying them, ${m((r) => r.kernelBatches)} kernel batches in all; signal → kernel latency: median of medians ${m((r) => r.latency?.medianMs ?? 0)} ms, median p90 ${m((r) => r.latency?.p90Ms ?? 0)} ms, median max ${m((r) => r.latency?.maxMs ?? 0)} ms, worst ${worst} ms`;
}

/** Every agent's routeChanges from its /healthz, as routeChangeLine takes them. */
export async function readRouteChangeCounters(
  kernel: Kernel,
  state: Pick<LabState, "nodes">,
): Promise<{ routes?: RouteChangeCounters }[]> {
  return Promise.all(
    state.nodes.map(async (n) => {
      const b = (await agentHealth(kernel, n.ns)).body as { routeChanges?: RouteChangeCounters } | undefined;
      return { routes: b?.routeChanges };
    }),
  );
}
