/**
 * The lab at cluster scale (issue 16): for each model and size, `lab up` with no pods, then
 * - converge: from the last agent's start (its kernel start time) until every node routes
 *   (proto 147) to every other node's pod subnet;
 * - BGP sessions established, counted from each node's kernel (ss), against the topology's count;
 * - the agents' CPU time (node + spawn helpers + what they ran) and PSS per node;
 * - restart: 10 % of the agents killed (SIGKILL) at once and started again at once (calico#7144):
 *   until every restarted agent is healthy again, its sessions are back and every route is in
 *   place; the worst sweep's count of missing routes during it.
 * - switch (bgp rows, `--no-switch` to skip; the lab then has a pod per node): with `--ping-pairs`
 *   pod pairs pinging across nodes every 50 ms, the live topology goes from a full mesh to 2
 *   reflectors and back (a reflector row: to a full mesh and back), each way timed until the
 *   BGP sessions every kernel shows match (calico#3819); echoes sent and lost
 *   (bench/reflector-switch.ts).
 * Reference in the same run: a bare idle `node` process's PSS (what Node alone costs a node), and
 * vxlan at the same size for convergence (a datastore watch, no BGP).
 *
 * Usage (as root, holding the lab lock; the lab is removed after each case):
 *   flock /tmp/strata-lab.lock node dist/bench/lab-convergence.js \
 *     [--sizes 25,50,100,200] [--models bgp,bgp-rr1,bgp-rr2,bgp-rr4,vxlan,host-gw] [--no-restart]
 *     [--no-switch] [--ping-pairs 50] [--per-process auto,1]
 * `--per-process`: agents per process for each case, "auto" (the lab's own choice: agent hosts past
 * 20 nodes) and/or a number (1: a process per agent, the reference for what hosting saves).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { askHost } from "../src/agent-host/host-control.js";
import { labPaths } from "../src/cli/paths.js";
import { namedNetns } from "../src/kernel/api.js";
import { strataRouteProto } from "../src/kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { withRtnetlink } from "../src/kernel/rtnetlink/driver.js";
import { agentHealth } from "../src/lab/agent-health.js";
import { agentsPerProcess, controlOf, hostRecordOf } from "../src/lab/agent-hosts.js";
import { countBgpSessions } from "../src/lab/bgp-status.js";
import { spawnLabProcess, stopLabProcess } from "../src/lab/processes.js";
import { type LabState, labDown, labUp } from "../src/lab/runner.js";
import { type LabProcess, readLabStateSync, withProcess, writeLabState } from "../src/lab/state.js";
import { openFilesLimit } from "../src/process/open-files-limit.js";
import { benchLabSpec } from "./lab-bench-spec.js";
import { childrenOf, cpuOf, pssKiB, startedAtS, uptimeS } from "./proc-stats.js";
import { type SwitchResult, switchAndBack } from "./reflector-switch.js";
import { readRouteChangeCounters, routeChangeLine } from "./route-change-counters.js";
import { readStartPhases, startPhasesLine } from "./start-phases.js";
import { median } from "./stats.js";

const arg = (flag: string, fallback: string) =>
  process.argv.includes(flag) ? (process.argv[process.argv.indexOf(flag) + 1] ?? fallback) : fallback;
const sizes = arg("--sizes", "25,50,100,200").split(",").map(Number);
const models = arg("--models", "bgp,bgp-rr1,bgp-rr2,bgp-rr4,vxlan,host-gw").split(",");
const restart = !process.argv.includes("--no-restart");
const switchStep = !process.argv.includes("--no-switch");
const pingPairs = Number(arg("--ping-pairs", "50"));
/** Agents per process to run each case with: "auto" (the lab's choice) and/or numbers (1: a process each). */
const perProcessList = arg("--per-process", "auto").split(",");
const kernel = withRtnetlink(createIproute2Kernel());
const paths = labPaths();

/** The processes that run agents: each agent's own, or the agent hosts (several agents each). */
const agentPids = (state: LabState) => [
  ...new Set(
    state.processes.flatMap((p) =>
      (p.role === "agent" && !p.host) || p.role === "agent-host" ? (p.running ? [p.running.pid] : []) : [],
    ),
  ),
];
/** The agents with their helper processes: CPU seconds and PSS MiB. */
const agentCost = (state: LabState) => {
  let cpu = 0;
  let pss = 0;
  for (const pid of agentPids(state))
    for (const p of [pid, ...childrenOf(pid)]) {
      cpu += cpuOf(p);
      pss += pssKiB(p) / 1024;
    }
  return { cpu, pss };
};
/**
 * When each agent started, seconds since boot: its process's start, or for a hosted agent (no
 * process of its own) the time of its log's first line, which its logger writes as it starts.
 */
const agentStarts = (state: LabState): number[] =>
  state.processes.flatMap((p) => {
    if (p.role !== "agent" || !p.running) return [];
    if (!p.host) return [startedAtS(p.running.pid)];
    const first = readFileSync(p.log, "utf8").split("\n", 1)[0] ?? "";
    // The logger buffers (agent-launch.ts): a quiet agent's first line may not be written yet.
    // Such an agent is left out, so the last start can only come out earlier and the time to
    // converge longer, never shorter (host-gw at 25 nodes failed on an empty first line).
    let ms: number | undefined;
    try {
      ms = (JSON.parse(first) as { time?: number }).time;
    } catch {
      ms = undefined;
    }
    return ms === undefined ? [] : [uptimeS() - (Date.now() - ms) / 1000];
  });

/** Routes missing across the lab right now: for each node, other nodes' subnets it has no route to. */
async function missingRoutes(state: LabState): Promise<number> {
  let missing = 0;
  for (const node of state.nodes) {
    const routes = await kernel.routes(namedNetns(node.ns), { family: 4 });
    const have = new Set(routes.filter((r) => r.proto === strataRouteProto).map((r) => r.dst));
    missing += state.nodes.filter((o) => o !== node && !have.has(o.subnet)).length;
  }
  return missing;
}

/** A bare idle Node process's PSS, MiB: the floor any process-per-node design pays. */
async function bareNodePss(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1500));
  const pss = pssKiB(child.pid as number) / 1024;
  child.kill("SIGKILL");
  return pss;
}

interface Row {
  model: string;
  nodes: number;
  upS: number;
  convergeS: number;
  sessions: string;
  cpuS: number;
  pssPerNode: number;
  /** Agents per process (1: each its own; more: agent hosts). */
  perProcess: number;
  restartS?: number;
  restartWorstMissing?: number;
  restartSessions?: string;
  switched?: SwitchResult;
  switchError?: string;
  error?: string;
}

/**
 * Kill 10 % of the agents at once, start them again at once: until all is whole again. Hosted
 * agents (past 20 nodes, agent-hosts.ts) cannot be killed alone: they are stopped (SIGTERM's path)
 * and started again inside their hosts; the row says so.
 */
async function restartTenth(
  state: LabState,
): Promise<Pick<Row, "restartS" | "restartWorstMissing" | "restartSessions">> {
  const k = Math.max(1, Math.round(state.nodes.length / 10));
  const step = state.nodes.length / k;
  const victims = Array.from({ length: k }, (_, i) => state.nodes[Math.floor(i * step + step / 2)]?.name);
  const procs = state.processes.filter((p) => p.role === "agent" && victims.includes(p.node));
  const hosted = procs.filter((p) => p.host);
  const own = procs.filter((p) => !p.host);
  const hostControl = (p: LabProcess) => {
    const host = hostRecordOf(state, p.host);
    if (!host) throw new Error(`no agent host ${p.host} recorded`);
    return controlOf(host);
  };
  await Promise.all([
    ...own.map((p) => stopLabProcess(p, { kill: true })),
    ...hosted.map((p) => askHost(hostControl(p), { op: "stop", node: p.node ?? "" })),
  ]);
  const t0 = performance.now();
  let next = readLabStateSync() ?? state;
  for (const p of own) next = withProcess(next, spawnLabProcess("agent", p.argv, p.log, p.node));
  writeLabState(next);
  await Promise.all(hosted.map((p) => askHost(hostControl(p), { op: "start", node: p.node ?? "" })));
  let worst = 0;
  const victimNs = state.nodes.filter((n) => victims.includes(n.name)).map((n) => n.ns);
  for (;;) {
    const missing = await missingRoutes(next);
    worst = Math.max(worst, missing);
    const healthy = await Promise.all(
      victimNs.map(async (ns) => (await agentHealth(kernel, ns)).httpStatus === 200),
    );
    const s = state.spec.model === "bgp" ? await countBgpSessions(kernel, next) : undefined;
    if (missing === 0 && healthy.every(Boolean) && (!s || s.total === s.expected))
      return {
        restartS: (performance.now() - t0) / 1000,
        restartWorstMissing: worst,
        ...(s ? { restartSessions: `${s.total}/${s.expected}` } : {}),
      };
    if (performance.now() - t0 > 180_000) throw new Error(`restart of ${k} agents: not whole after 180 s`);
  }
}

async function runCase(model: string, nodes: number, perProcess: string): Promise<Row> {
  const base = {
    ...benchLabSpec(model, nodes),
    ...(perProcess === "auto" ? {} : { agentsPerProcess: Number(perProcess) }),
  };
  const switching = switchStep && base.model === "bgp";
  // The switch step pings between pods: one per node.
  const spec = switching ? { ...base, podsPerNode: 1 } : base;
  const t0 = performance.now();
  let routesDoneAt = 0;
  const state = await labUp(kernel, spec, paths, async (label, fn) => {
    const r = await fn();
    if (label.startsWith("waiting for")) routesDoneAt = uptimeS();
    return r;
  });
  const upS = (performance.now() - t0) / 1000;
  // Models whose routes labUp does not wait for: wait here (same condition).
  if (routesDoneAt === 0) {
    while ((await missingRoutes(state)) > 0) await new Promise((r) => setTimeout(r, 200));
    routesDoneAt = uptimeS();
  }
  const lastStart = Math.max(...agentStarts(state));
  const s = spec.model === "bgp" ? await countBgpSessions(kernel, state) : undefined;
  const cost = agentCost(state);
  if (spec.model === "bgp")
    console.error(`${model} ${nodes}: ${routeChangeLine(await readRouteChangeCounters(kernel, state))}`);
  console.error(`${model} ${nodes}: ${startPhasesLine(await readStartPhases(kernel, state))}`);
  const row: Row = {
    model,
    nodes,
    upS,
    convergeS: routesDoneAt - lastStart,
    sessions: s ? `${s.total}/${s.expected}` : "-",
    cpuS: cost.cpu,
    pssPerNode: cost.pss / nodes,
    perProcess: agentsPerProcess(spec, spec.agentsPerProcess, availableParallelism(), openFilesLimit()),
  };
  if (switching) {
    try {
      row.switched = await switchAndBack(kernel, state, {
        otherK: (spec.routeReflectors ?? 0) === 0 ? 2 : 0,
        pairs: pingPairs,
        intervalS: 0.05,
        dwellS: 2,
        timeoutS: 120,
      });
    } catch (err) {
      row.switchError = String(err).split("\n")[0];
    }
  }
  if (restart) Object.assign(row, await restartTenth(readLabStateSync() ?? state));
  return row;
}

const bare = await bareNodePss();
const rows: Row[] = [];
for (const nodes of sizes)
  for (const model of models)
    for (const perProcess of perProcessList) {
      try {
        rows.push(await runCase(model, nodes, perProcess));
      } catch (err) {
        rows.push({
          model,
          nodes,
          upS: Number.NaN,
          convergeS: Number.NaN,
          sessions: "-",
          cpuS: 0,
          pssPerNode: 0,
          perProcess: 0,
          error: String(err).split("\n")[0],
        });
      } finally {
        await labDown(kernel);
      }
      const r = rows.at(-1) as Row;
      console.error(
        `${r.model} ${r.nodes}: ${r.error ?? `up ${r.upS.toFixed(1)} s, converged ${r.convergeS.toFixed(1)} s`}`,
      );
    }

const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(1));
console.log(`\nbare idle node process: PSS ${bare.toFixed(1)} MiB (reference for the memory ratio)`);
console.log(
  "| model | nodes | agents per process | lab up s | converge s | ×vxlan | sessions (kernel/expected) | agents' CPU s | PSS MiB/node | ×bare node | restart 10 %: whole again s | worst missing routes | sessions after |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const ref = rows.find((x) => x.model === "vxlan" && x.nodes === r.nodes && !x.error);
  const ratio = ref && !r.error ? `${(r.convergeS / ref.convergeS).toFixed(2)}×` : "-";
  console.log(
    r.error
      ? `| ${r.model} | ${r.nodes} | failed: ${r.error} ||||||||||`
      : `| ${r.model} | ${r.nodes} | ${r.perProcess} | ${f1(r.upS)} | ${f1(r.convergeS)} | ${ratio} | ${r.sessions} | ${f1(r.cpuS)} | ${f1(r.pssPerNode)} | ${(r.pssPerNode / bare).toFixed(2)}× | ${f1(r.restartS)} | ${r.restartWorstMissing ?? "-"} | ${r.restartSessions ?? "-"} |`,
  );
}
const switched = rows.filter((r) => r.switched || r.switchError);
if (switched.length > 0) {
  console.log(
    "\n| model | nodes | switch | sessions match s | back | sessions match s | pod pairs pinging | echoes sent | lost | pairs that lost |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of switched) {
    const w = r.switched;
    const [a, b] = w?.legs ?? [];
    console.log(
      !w || !a || !b
        ? `| ${r.model} | ${r.nodes} | failed: ${r.switchError} ||||||||`
        : `| ${r.model} | ${r.nodes} | → ${a.to} (${a.sessions}) | ${f1(a.sessionsMatchS)} | → ${b.to} (${b.sessions}) | ${f1(b.sessionsMatchS)} | ${w.pairs} | ${w.sent} | ${w.lost} (${w.unanswered} unanswered, ≤ 1 a pair in flight at the end) | ${w.lossyPairs} |`,
    );
  }
}
const ok = rows.filter((r) => !r.error);
if (ok.length > 0) {
  const worst = ok.reduce((a, b) => (b.convergeS > a.convergeS ? b : a));
  console.log(
    `\nconverge: median ${f1(median(ok.map((r) => r.convergeS)))} s; worst ${worst.model} at ${worst.nodes} nodes, ${f1(worst.convergeS)} s. PSS per node: median ${f1(median(ok.map((r) => r.pssPerNode)))} MiB, worst ${f1(Math.max(...ok.map((r) => r.pssPerNode)))} MiB`,
  );
}
