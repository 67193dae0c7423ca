/**
 * A lab agent's start-up by what its Node runs (issue 16; src/lab/agent-argv.ts, LabAgentEntry):
 * the CLI script (`bin/strata.js`, ~300 ES modules), the esbuild bundle (one CommonJS file) and
 * the V8 startup snapshot of the bundle (modules already evaluated), all with the lab agents' Node
 * flags.
 * - load: `agent --help` run `--runs` times (every module loaded, the command built, nothing
 *   started): CPU seconds (user + sys, from the shell's `times`) and wall ms, medians;
 * - in a lab (`--nodes`, vxlan, no pods): per agent, ms from its kernel start time to its
 *   subnet lease (subnet.json written), its CPU seconds by then (sampled as the lease appears) and
 *   the PSS per node (agent + helpers) once `up` is done, medians.
 * Reference in the same run: the CLI script (ratios) and a bare `node -e 0` (load).
 *
 * Usage (as root; the lab part takes the lab lock itself, run it under the heavy lock):
 *   flock /tmp/strata-heavy.lock node dist/bench/agent-startup.js [--runs 9] [--nodes 12] [--no-lab]
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { labAgentEntry, labPaths } from "../src/cli/paths.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { agentEntryArgv, type LabAgentEntry, labAgentNodeFlags } from "../src/lab/agent-argv.js";
import { type LabState, labDown, labUp } from "../src/lab/runner.js";
import { labDir, readLabStateSync } from "../src/lab/state.js";
import { benchLabSpec } from "./lab-bench-spec.js";
import { childrenOf, cpuOf, pssKiB, startedAtS, uptimeS } from "./proc-stats.js";
import { median } from "./stats.js";

const arg = (flag: string, fallback: string) =>
  process.argv.includes(flag) ? (process.argv[process.argv.indexOf(flag) + 1] ?? fallback) : fallback;
const runs = Number(arg("--runs", "9"));
const nodes = Number(arg("--nodes", "12"));
const withLab = !process.argv.includes("--no-lab");

const entries = (["cli", "bundle", "snapshot"] as const).flatMap((kind): LabAgentEntry[] => {
  try {
    return [labAgentEntry({ STRATA_LAB_AGENT_ENTRY: kind })];
  } catch (err) {
    console.error(`${kind}: not built (${(err as Error).message})`);
    return [];
  }
});

/** One command under bash: wall ms and the CPU seconds `times` reports for its children. */
function timed(argv: readonly string[]): { cpuS: number; wallMs: number } {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const t0 = performance.now();
  const r = spawnSync("bash", ["-c", `${quoted} >/dev/null 2>&1; times`], { encoding: "utf8" });
  const wallMs = performance.now() - t0;
  const children = r.stdout.trim().split("\n").at(-1) ?? "";
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { cpuS: secs.reduce((a, b) => a + b, 0), wallMs };
}

interface LoadRow {
  what: string;
  cpuS: number;
  wallMs: number;
}
const load: LoadRow[] = [];
const bare = Array.from({ length: runs }, () => timed([process.execPath, ...labAgentNodeFlags, "-e", "0"]));
load.push({
  what: "bare node -e 0",
  cpuS: median(bare.map((x) => x.cpuS)),
  wallMs: median(bare.map((x) => x.wallMs)),
});
for (const e of entries) {
  const argv = [process.execPath, ...labAgentNodeFlags, ...agentEntryArgv(e), "agent", "--help"];
  const xs = Array.from({ length: runs }, () => timed(argv));
  load.push({ what: e.kind, cpuS: median(xs.map((x) => x.cpuS)), wallMs: median(xs.map((x) => x.wallMs)) });
}

interface LabRow {
  what: string;
  upS: number;
  leaseMs: number;
  cpuAtLeaseS: number;
  pssPerNode: number;
}
const labRows: LabRow[] = [];
if (withLab) {
  const kernel = createIproute2Kernel();
  for (const e of entries) {
    const spec = benchLabSpec("vxlan", nodes);
    // Sample each agent's CPU as its lease appears (every 20 ms while `up` runs).
    const cpuAtLease = new Map<string, number>();
    let state: LabState | undefined;
    let sampler: NodeJS.Timeout | undefined;
    const t0 = performance.now();
    try {
      state = await labUp(kernel, spec, { ...labPaths(), agentEntry: e }, async (label, fn) => {
        if (label.startsWith("starting") && label.includes("agents"))
          sampler = setInterval(() => {
            for (let i = 1; i <= nodes; i++) {
              const name = `n${i}`;
              if (cpuAtLease.has(name) || !existsSync(join(labDir, name, "subnet.json"))) continue;
              const pid = agentPidOf(name);
              if (pid) cpuAtLease.set(name, cpuOf(pid));
            }
          }, 20);
        try {
          return await fn();
        } finally {
          if (label.startsWith("starting") && label.includes("agents")) clearInterval(sampler);
        }
      });
      const upS = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 3000));
      const leaseMs: number[] = [];
      let pss = 0;
      for (const p of state.processes) {
        if (p.role !== "agent" || !p.running || !p.node) continue;
        const leasedAt = statSync(join(labDir, p.node, "subnet.json")).mtimeMs;
        // The lease's time in the kernel's clock (seconds since boot), as the start time is.
        const leasedAtS = uptimeS() - (Date.now() - leasedAt) / 1000;
        leaseMs.push((leasedAtS - startedAtS(p.running.pid)) * 1000);
        for (const pid of [p.running.pid, ...childrenOf(p.running.pid)]) pss += pssKiB(pid) / 1024;
      }
      labRows.push({
        what: e.kind,
        upS,
        leaseMs: median(leaseMs),
        cpuAtLeaseS: median([...cpuAtLease.values()]),
        pssPerNode: pss / nodes,
      });
    } finally {
      clearInterval(sampler);
      await labDown(kernel);
    }
  }
}

/** The running agent of a node, from the lab's state file as `up` writes it. */
function agentPidOf(node: string): number | undefined {
  return readLabStateSync()?.processes.find((p) => p.role === "agent" && p.node === node)?.running?.pid;
}

const ref = load.find((r) => r.what === "cli");
console.log(`\nagent start-up, lab flags ${labAgentNodeFlags.join(" ")}; ${runs} runs each, medians`);
console.log("| what the agent's Node runs | load CPU s | ×cli | load wall ms |");
console.log("|---|---|---|---|");
for (const r of load)
  console.log(
    `| ${r.what} | ${r.cpuS.toFixed(3)} | ${ref ? (r.cpuS / ref.cpuS).toFixed(2) : "-"}× | ${r.wallMs.toFixed(0)} |`,
  );
if (labRows.length > 0) {
  const lref = labRows.find((r) => r.what === "cli");
  console.log(`\n${nodes}-node vxlan lab, no pods, medians per agent`);
  console.log("| what | lab up s | start → lease ms | ×cli | CPU s at lease | PSS MiB/node |");
  console.log("|---|---|---|---|---|---|");
  for (const r of labRows)
    console.log(
      `| ${r.what} | ${r.upS.toFixed(1)} | ${r.leaseMs.toFixed(0)} | ${lref ? (r.leaseMs / lref.leaseMs).toFixed(2) : "-"}× | ${r.cpuAtLeaseS.toFixed(2)} | ${r.pssPerNode.toFixed(1)} |`,
    );
}
