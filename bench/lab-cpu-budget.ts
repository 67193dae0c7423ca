/**
 * Where a lab's CPU goes (issue 16): `lab up` of one model and size with no pods, each step's wall
 * time and the agents' CPU by then; then, idle, per agent over a window: CPU (agent + spawn
 * helpers + what they ran), reconcile passes and their triggers (/healthz), the datastore's CPU,
 * and the programs a few agents' helpers start (strace on execve: which, how often).
 *
 * Usage (as root; hold the heavy lock: `lab up` takes the lab lock itself through the bench's caller):
 *   flock /tmp/strata-lab.lock flock /tmp/strata-heavy.lock node dist/bench/lab-cpu-budget.js \
 *     [--model vxlan] [--nodes 100] [--idle-seconds 30] [--trace-agents 3] [--profile-seconds 40] [--max-minutes 9]
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { labPaths } from "../src/cli/paths.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { agentHealth } from "../src/lab/agent-health.js";
import { spawnLabProcess, stopLabProcess } from "../src/lab/processes.js";
import { type LabState, labDown, labUp } from "../src/lab/runner.js";
import { readLabStateSync, withProcess, writeLabState } from "../src/lab/state.js";
import { benchLabSpec } from "./lab-bench-spec.js";
import { childrenOf, cpuOf, uptimeS } from "./proc-stats.js";
import { type RouteChangeCounters, routeChangeLine } from "./route-change-counters.js";
import { median } from "./stats.js";

const arg = (flag: string, fallback: string) =>
  process.argv.includes(flag) ? (process.argv[process.argv.indexOf(flag) + 1] ?? fallback) : fallback;
const model = arg("--model", "vxlan");
const nodes = Number(arg("--nodes", "100"));
const idleS = Number(arg("--idle-seconds", "30"));
const traced = Number(arg("--trace-agents", "3"));
const profileS = Number(arg("--profile-seconds", "40"));
// The heavy lock is shared: the run stops itself (and removes the lab) after this long.
const maxMinutes = Number(arg("--max-minutes", "9"));
const stop = new AbortController();
const watchdog = setTimeout(
  () => stop.abort(new Error(`stopped after ${maxMinutes} min`)),
  maxMinutes * 60_000,
);
const kernel = createIproute2Kernel();
const spec = benchLabSpec(model, nodes);

const agents = (s: LabState) =>
  s.processes.flatMap((p) =>
    p.role === "agent" && p.running ? [{ node: p.node ?? "", pid: p.running.pid }] : [],
  );
const datastorePid = (s: LabState) => s.processes.find((p) => p.role === "datastore")?.running?.pid;
const cpuWithHelpers = (pid: number) => [pid, ...childrenOf(pid)].reduce((a, p) => a + cpuOf(p), 0);
const counters = async (s: LabState) =>
  Promise.all(
    s.nodes.map(async (n) => {
      const b = (await agentHealth(kernel, n.ns)).body as {
        reconciles?: number;
        reconcileTriggers?: number;
        routeChanges?: RouteChangeCounters;
      };
      return { reconciles: b?.reconciles ?? 0, triggers: b?.reconcileTriggers ?? 0, routes: b?.routeChanges };
    }),
  );

const phases: { label: string; s: number; agentsCpu: number }[] = [];
let current: LabState | undefined;
const t0 = performance.now();
try {
  const state = await labUp(
    kernel,
    spec,
    labPaths(),
    async (label, fn) => {
      const a = performance.now();
      console.error(`${((a - t0) / 1000).toFixed(1)} s: ${label}`);
      const r = await fn();
      phases.push({ label, s: (performance.now() - a) / 1000, agentsCpu: 0 });
      return r;
    },
    { signal: stop.signal },
  );
  current = state;
  const upS = (performance.now() - t0) / 1000;
  const upCpu = agents(state).map((a) => cpuWithHelpers(a.pid));
  const upCounters = await counters(state);
  console.log(`${model} ${nodes} nodes: lab up ${upS.toFixed(1)} s (machine shared with 2 other helpers)`);
  for (const p of phases) console.log(`  ${p.s.toFixed(1).padStart(6)} s  ${p.label}`);
  console.log(
    `  agents' CPU by the end of up: ${upCpu.reduce((a, b) => a + b, 0).toFixed(1)} CPU-s (median ${median(upCpu).toFixed(2)}, max ${Math.max(...upCpu).toFixed(2)} per agent); passes per agent: median ${median(upCounters.map((c) => c.reconciles))}, triggers median ${median(upCounters.map((c) => c.triggers))}`,
  );
  console.log(`  ${routeChangeLine(upCounters)}`);
  // Idle window: strace a few agents' helpers for the programs they start.
  const traceFiles: string[] = [];
  const tracers = agents(state)
    .filter((_, i, all) => i % Math.max(1, Math.floor(all.length / traced)) === 0)
    .slice(0, traced)
    .map((a) => {
      const file = `/tmp/strata-budget-trace-${a.node}`;
      traceFiles.push(file);
      const helpers = childrenOf(a.pid);
      return spawn(
        "strace",
        ["-f", "-qq", "-e", "trace=execve", "-o", file, ...helpers.flatMap((h) => ["-p", String(h)])],
        { stdio: "ignore" },
      );
    });
  const before = agents(state).map((a) => cpuWithHelpers(a.pid));
  const dsPid = datastorePid(state);
  const ds0 = dsPid ? cpuOf(dsPid) : 0;
  const w0 = uptimeS();
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const after = agents(state).map((a) => cpuWithHelpers(a.pid));
  const ds1 = dsPid ? cpuOf(dsPid) : 0;
  const w = uptimeS() - w0;
  for (const t of tracers) t.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 500));
  const idleCounters = await counters(state);
  const perAgent = after.map((c, i) => (c - (before[i] ?? 0)) / w);
  const passes = idleCounters.map((c, i) => (c.reconciles - (upCounters[i]?.reconciles ?? 0)) / (w / 60));
  console.log(
    `idle ${w.toFixed(0)} s: agents ${perAgent.reduce((a, b) => a + b, 0).toFixed(2)} CPU-s/s in all (median ${(median(perAgent) * 1000).toFixed(1)} ms/s per agent, max ${(Math.max(...perAgent) * 1000).toFixed(1)}); datastore ${((ds1 - ds0) / w).toFixed(3)} CPU-s/s; passes per agent per minute: median ${median(passes).toFixed(1)} (counters read after the window: their /healthz adds one pass-free route read each)`,
  );
  const programs = new Map<string, number>();
  for (const f of traceFiles) {
    let text = "";
    try {
      text = readFileSync(f, "utf8");
      rmSync(f);
    } catch {}
    for (const line of text.split("\n")) {
      // Only the exec that succeeded: the helper searches PATH, one failed execve per entry before.
      const m = /execve\("[^"]*", \[([^\]]*)\].* = 0$/.exec(line);
      if (!m) continue;
      const words = (m[1] ?? "").split(", ").map((x) => x.replace(/^"|"$/g, ""));
      const key = words.slice(0, words[0]?.endsWith("ip") ? 3 : 2).join(" ");
      programs.set(key, (programs.get(key) ?? 0) + 1);
    }
  }
  const total = [...programs.values()].reduce((a, b) => a + b, 0);
  console.log(
    `programs started by ${traceFiles.length} agents' helpers in ${w.toFixed(0)} s: ${(total / traceFiles.length / w).toFixed(2)} per agent per second`,
  );
  for (const [k, v] of [...programs].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${(v / traceFiles.length / w).toFixed(3).padStart(7)}/s  ${k}`);
  if (profileS > 0) await profileOneAgent(state);
} catch (err) {
  console.log(`${model} ${nodes}: failed: ${String(err).split("\n")[0]}`);
  for (const p of phases) console.log(`  ${p.s.toFixed(1).padStart(6)} s  ${p.label}`);
} finally {
  void current;
  clearTimeout(watchdog);
  await labDown(kernel);
}

/**
 * One agent (the middle node) restarted under `--cpu-prof`: its start, then `profileS` idle
 * seconds; where its JavaScript time went, by function, self time.
 */
async function profileOneAgent(state: LabState): Promise<void> {
  const node = state.nodes[Math.floor(state.nodes.length / 2)]?.name;
  const proc = state.processes.find((p) => p.role === "agent" && p.node === node);
  if (!proc) return;
  const dir = "/tmp/strata-budget-prof";
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  await stopLabProcess(proc, { kill: true });
  // Node's flags go before the entry: after the node binary in the recorded argv.
  const at = proc.argv.findIndex((a) => a.startsWith("--max-semi-space-size"));
  const argv = [...proc.argv.slice(0, at), "--cpu-prof", `--cpu-prof-dir=${dir}`, ...proc.argv.slice(at)];
  const p = spawnLabProcess("agent", argv, proc.log, proc.node);
  writeLabState(withProcess(readLabStateSync() ?? state, p));
  const c0 = p.running ? cpuWithHelpers(p.running.pid) : 0;
  await new Promise((r) => setTimeout(r, profileS * 1000));
  const c1 = p.running ? cpuWithHelpers(p.running.pid) : 0;
  await stopLabProcess(p, { graceMs: 10_000 });
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) {
    console.log(`profile of ${node}: none written`);
    return;
  }
  const prof = JSON.parse(readFileSync(`${dir}/${file}`, "utf8")) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    const us = prof.timeDeltas[i] ?? 0;
    const key = f ? `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber}` : "?";
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  const idle = self.get("(idle) :-1") ?? 0;
  console.log(
    `profile of ${node} (restarted, ${profileS} s): ${((c1 - c0) * 1000).toFixed(0)} CPU-ms with helpers; JS thread busy ${((total - idle) / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms; top self time:`,
  );
  for (const [k, us] of [...self]
    .filter(([k]) => k !== "(idle) :-1")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20))
    console.log(`  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}
