import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { LabPodState } from "./state.js";

export interface PingMeshCounts {
  readonly sent: number;
  readonly received: number;
  /** Pairs (from → to) that lost at least one echo, with how many. */
  readonly lossy: readonly { readonly from: string; readonly to: string; readonly lost: number }[];
}

/**
 * Pure: pod pairs on different nodes, at most `limit` of them. A sample of a large lab is spread
 * over it (the pairs in the order of a hash of their index, the same every run),
 * so it reaches from and to most nodes rather than from the first few.
 */
export function crossNodePairs(
  pods: readonly LabPodState[],
  limit = Number.POSITIVE_INFINITY,
): [LabPodState, LabPodState][] {
  const all: [LabPodState, LabPodState][] = [];
  for (const a of pods) for (const b of pods) if (a.node !== b.node) all.push([a, b]);
  if (all.length <= limit) return all;
  // MurmurHash3's finaliser is a bijection on 32-bit integers: distinct keys, a fixed shuffle.
  const key = (i: number) => {
    let h = i + 1;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  return all
    .map((pair, i) => ({ pair, k: key(i) }))
    .sort((x, y) => x.k - y.k)
    .slice(0, Math.max(0, Math.floor(limit)))
    .map((x) => x.pair);
}

/**
 * Every pod pings every pod on another node (or a sample of `pairs` such pairs, crossNodePairs),
 * `intervalS` apart (root may go below 0.2 s), until the returned function is called; it then lets the last echo come back, stops them and counts.
 */
export function startPingMesh(
  pods: readonly LabPodState[],
  opts: { readonly intervalS?: number; readonly pairs?: number } = {},
): () => Promise<PingMeshCounts> {
  const pingers: { from: string; to: string; child: ChildProcess; out: Promise<string> }[] = [];
  const interval = String(opts.intervalS ?? 0.05);
  for (const [a, b] of crossNodePairs(pods, opts.pairs)) {
    // `ip netns exec` execs ping in place: a signal to this PID reaches ping itself.
    const child = spawn("ip", ["netns", "exec", a.ns, "ping", "-q", "-i", interval, "-W", "1", b.ip], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let text = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      text += d;
    });
    pingers.push({
      from: a.name,
      to: b.name,
      child,
      out: new Promise((r) => child.once("exit", () => r(text))),
    });
  }
  return async () => {
    // Let the last echo come back, then SIGINT: ping prints its summary.
    await sleep(150);
    for (const p of pingers) p.child.kill("SIGINT");
    let sent = 0;
    let received = 0;
    const lossy: { from: string; to: string; lost: number }[] = [];
    for (const p of pingers) {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(await p.out);
      if (!m) continue;
      sent += Number(m[1]);
      received += Number(m[2]);
      // The last echo may still be in flight at SIGINT: one short is not a loss.
      const lost = Number(m[1]) - Number(m[2]);
      if (lost > 1) lossy.push({ from: p.from, to: p.to, lost });
    }
    return { sent, received, lossy };
  };
}
