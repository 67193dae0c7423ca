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
 * Every pod pings every pod on another node (`intervalS` apart, root may go below 0.2 s) until
 * the returned function is called; it then lets the last echo come back, stops them and counts.
 */
export function startPingMesh(
  pods: readonly LabPodState[],
  opts: { readonly intervalS?: number } = {},
): () => Promise<PingMeshCounts> {
  const pingers: { from: string; to: string; child: ChildProcess; out: Promise<string> }[] = [];
  const interval = String(opts.intervalS ?? 0.05);
  for (const a of pods)
    for (const b of pods) {
      if (a.node === b.node) continue;
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
