import type { Kernel } from "../src/kernel/api.js";
import { agentHealth } from "../src/lab/agent-health.js";
import type { LabState } from "../src/lab/state.js";
import { median } from "./stats.js";

/** Every agent's startPhases from its /healthz (ms per step of its start; issue 16). */
export async function readStartPhases(
  kernel: Kernel,
  state: Pick<LabState, "nodes">,
): Promise<Record<string, number>[]> {
  const all = await Promise.all(
    state.nodes.map(
      async (n) =>
        ((await agentHealth(kernel, n.ns)).body as { startPhases?: Record<string, number> } | undefined)
          ?.startPhases,
    ),
  );
  return all.filter((p): p is Record<string, number> => p !== undefined);
}

/** Pure: per step, the median, p90 and worst over the agents, in the order the steps ran. */
export function startPhasesLine(phases: readonly Record<string, number>[]): string {
  if (phases.length === 0) return "start phases: none reported";
  const steps = [...new Set(phases.flatMap((p) => Object.keys(p)))];
  const cells = steps.map((step) => {
    const v = phases.map((p) => p[step] ?? 0).sort((a, b) => a - b);
    const p90 = v[Math.min(v.length - 1, Math.floor(v.length * 0.9))] ?? 0;
    return `${step} ${median(v)}/${p90}/${v[v.length - 1]}`;
  });
  return `agent start, ms per step (median/p90/worst of ${phases.length}): ${cells.join(", ")}`;
}
