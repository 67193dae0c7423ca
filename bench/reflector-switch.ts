/**
 * The live mesh ↔ reflectors switch at scale (issue 16, calico#3819), a step of the convergence
 * bench's bgp rows: with a sample of pod pairs pinging across nodes, switch the running lab's
 * topology (`strata lab route-reflectors K`: the datastore's config, every agent follows it) to
 * the other topology and back; for each way, the time until the BGP sessions the kernel shows
 * (ss, every node) match the new topology, and over both the echoes sent and lost.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { labPaths } from "../src/cli/paths.js";
import type { Kernel } from "../src/kernel/api.js";
import { countBgpSessions } from "../src/lab/bgp-status.js";
import { switchRouteReflectors } from "../src/lab/bgp-topology.js";
import { crossNodePairs, startPingMesh } from "../src/lab/ping-mesh.js";
import type { LabState } from "../src/lab/state.js";

export interface SwitchResult {
  /** "mesh → 2 RR" and back, with the seconds until the kernel's session count matched. */
  readonly legs: readonly {
    readonly to: string;
    readonly sessionsMatchS: number;
    readonly sessions: string;
  }[];
  readonly pairs: number;
  readonly sent: number;
  /** Echoes with no reply, including the one per pair still in flight when the pings stopped. */
  readonly unanswered: number;
  /** Echoes lost on pairs that lost more than that one. */
  readonly lost: number;
  /** Pairs that lost more than the one echo in flight at the end. */
  readonly lossyPairs: number;
}

const topologyName = (k: number) => (k === 0 ? "mesh" : `${k} RR`);

/** The kernel's session count once it matches the lab's topology the lab's topology (ss on every node, in turn). */
async function sessionsMatch(kernel: Kernel, state: LabState, timeoutS: number): Promise<string> {
  const t0 = performance.now();
  for (;;) {
    const c = await countBgpSessions(kernel, state);
    const s = (performance.now() - t0) / 1000;
    if (c.total === c.expected) return `${c.total}/${c.expected}`;
    if (s > timeoutS)
      throw new Error(
        `switch to ${topologyName(state.spec.routeReflectors ?? 0)}: sessions ${c.total}/${c.expected} after ${timeoutS} s`,
      );
  }
}

/**
 * Switch to `otherK` reflectors (0: full mesh) and back to the lab's own, `dwellS` seconds in
 * each, with `pairs` pod pairs pinging every `intervalS` throughout. The lab needs pods.
 */
export async function switchAndBack(
  kernel: Kernel,
  state: LabState,
  o: {
    readonly otherK: number;
    readonly pairs: number;
    readonly intervalS: number;
    readonly dwellS: number;
    readonly timeoutS: number;
  },
): Promise<SwitchResult> {
  const ownK = state.spec.routeReflectors ?? 0;
  if (state.pods.length < 2) throw new Error("the switch step needs pods (bring the lab up with --pods 1)");
  const pairs = crossNodePairs(state.pods, o.pairs).length;
  const stop = startPingMesh(state.pods, { intervalS: o.intervalS, pairs: o.pairs });
  const legs: SwitchResult["legs"][number][] = [];
  try {
    // The pingers' first echoes before the switch: a path missing already is not the switch's loss.
    await sleep(o.dwellS * 1000);
    let current = state;
    for (const k of [o.otherK, ownK]) {
      const t0 = performance.now();
      current = await switchRouteReflectors(kernel, current, k, labPaths());
      const sessions = await sessionsMatch(kernel, current, o.timeoutS);
      legs.push({ to: topologyName(k), sessionsMatchS: (performance.now() - t0) / 1000, sessions });
      await sleep(o.dwellS * 1000);
    }
  } catch (err) {
    const c = await stop();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)} (pings meanwhile: ${c.sent} sent, ${c.sent - c.received} unanswered)`,
    );
  }
  const c = await stop();
  return {
    legs,
    pairs,
    sent: c.sent,
    unanswered: c.sent - c.received,
    lost: c.lossy.reduce((n, p) => n + p.lost, 0),
    lossyPairs: c.lossy.length,
  };
}
