/**
 * CNI ADD/DEL latency: Strata (agent fast path, and standalone with no agent) against the
 * reference `bridge` + `host-local` plugins, measured in the same run on the same machine.
 *
 * The benchmark re-executes itself inside a throwaway "node" namespace so that plugins run the
 * way a runtime on that node runs them (a direct exec, no `ip netns exec` on the measured path).
 * Usage: node dist/bench/cni-latency.js [--iterations N] [--concurrency C] [--only LABEL-SUBSTRING]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defaultCniSocketDir } from "../src/agent/cni-socket.js";
import { type ConfList, pluginStdin, runPlugin } from "../src/cni/runtime-client.js";
import { removeBenchNamespaces, sh } from "./bench-netns.js";
import { installBenchPlugins } from "./bench-plugins.js";
import { median, p95 } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const nodeNs = "strata-b-cni-node";
const podPrefix = "strata-b-cni-pod";
const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const iterations = opt("--iterations", 40);
const concurrency = opt("--concurrency", 20);
/**
 * `--baseline DIR`: an earlier Strata checkout, built (e.g. a worktree of the commit before a
 * change), measured through its own shim and agent in the same run, so a change's cost is a ratio.
 */
const baselineDir = args.includes("--baseline")
  ? resolve(String(args[args.indexOf("--baseline") + 1]))
  : undefined;
/** `--only agent`: measure only flavours whose label contains this (the reference always runs). */
const only = args.includes("--only") ? String(args[args.indexOf("--only") + 1]) : undefined;

interface Flavour {
  readonly label: string;
  readonly list: ConfList;
  readonly env?: Record<string, string>;
  /** Where this flavour's plugins are (default: this checkout's). */
  readonly cniPath?: string[];
}

/** Outer process: make the node namespace, run the inner benchmark in it, always clean up. */
function outer(): void {
  removeBenchNamespaces("strata-b-cni-");
  try {
    sh("ip", ["netns", "add", nodeNs]);
    sh("ip", ["-n", nodeNs, "link", "set", "lo", "up"]);
    const r = spawnSyncInherit("ip", [
      "netns",
      "exec",
      nodeNs,
      process.execPath,
      import.meta.filename,
      "--inner",
      ...args,
    ]);
    process.exitCode = r;
  } finally {
    removeBenchNamespaces("strata-b-cni-");
  }
}

function spawnSyncInherit(cmd: string, argv: string[]): number {
  try {
    execFileSync(cmd, argv, { stdio: "inherit" });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? 1;
  }
}

async function measure(
  f: Flavour,
  cniPath: string[],
  pods: string[],
  parallel: number,
): Promise<{ add: number[]; del: number[]; wallAdd: number; wallDel: number }> {
  const plugin = f.list.plugins[0] as Record<string, unknown>;
  const type = String(plugin.type);
  const opts = { cniPath: f.cniPath ?? cniPath, env: f.env };
  const add: number[] = [];
  const del: number[] = [];
  const one = async (pod: string, cmd: "ADD" | "DEL", into: number[]) => {
    const att = { containerId: `bench-${pod}`, netns: `/run/netns/${pod}`, ifName: "eth0" };
    const started = performance.now();
    const out = await runPlugin(type, cmd, pluginStdin(f.list, plugin, att), att, opts);
    into.push(performance.now() - started);
    if (out.exitCode !== 0) throw new Error(`${f.label} ${cmd} failed: ${out.stdout} ${out.stderr}`);
  };
  const runAll = async (cmd: "ADD" | "DEL", into: number[]) => {
    const started = performance.now();
    const queue = [...pods];
    const workers = Array.from({ length: parallel }, async () => {
      for (let pod = queue.shift(); pod; pod = queue.shift()) await one(pod, cmd, into);
    });
    await Promise.all(workers);
    return performance.now() - started;
  };
  const wallAdd = await runAll("ADD", add);
  const wallDel = await runAll("DEL", del);
  return { add, del, wallAdd, wallDel };
}

/** Start a checkout's agent; `listening` is what `ss -xl` shows once it serves (its socket). */
async function startAgent(
  checkout = root,
  listening = defaultCniSocketDir,
  healthPort = "9947",
): Promise<ChildProcess> {
  const argv = [join(checkout, "bin/strata.js"), "agent", "--log-level", "warn", "--health-port", healthPort];
  const agent = spawn(process.execPath, argv, { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 100; i++) {
    if (
      execFileSync("ss", ["-xlnH"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes(
        listening,
      )
    )
      return agent;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("agent did not start");
}

/** The same flavour with the pods' source guard (anti-spoofing) switched off, for its cost. */
const noGuard = (label: string) => `${label.replace(/ \(.*\)$/, "")}, no anti-spoof`;

async function inner(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "strata-bench-cni-"));
  const cniPath = await installBenchPlugins(root, join(work, "bin"));
  const reference: Flavour = {
    label: "reference bridge+host-local",
    list: {
      cniVersion: "1.0.0",
      name: "bench-ref",
      plugins: [
        {
          type: "bridge",
          bridge: "cni-ref",
          isGateway: true,
          ipam: { type: "host-local", ranges: [[{ subnet: "10.40.0.0/16" }]], dataDir: join(work, "ref") },
        },
      ],
    },
  };
  const strata = (label: string, env?: Record<string, string>, antiSpoofing = true): Flavour => ({
    label,
    env,
    list: {
      cniVersion: "1.0.0",
      name: "bench-strata",
      plugins: [
        {
          type: "strata",
          mode: "bridge",
          bridge: "cni-strata",
          antiSpoofing,
          ipam: {
            type: "strata-ipam",
            ranges: [[{ subnet: "10.41.0.0/16" }]],
            dataDir: join(work, "strata"),
          },
        },
      ],
    },
  });
  const agentLabel = "strata via agent (shim)";
  const baselineLabel = "baseline via its agent";
  // The baseline checkout's own plugins in a bin dir of their own (its shim finds its own agent).
  const baselineBin = join(work, "baseline-bin");
  if (baselineDir) await installBenchPlugins(baselineDir, baselineBin);
  const baseline: Flavour = {
    label: baselineLabel,
    cniPath: [baselineBin, "/usr/lib/cni"],
    list: {
      cniVersion: "1.0.0",
      name: "bench-baseline",
      plugins: [
        {
          type: "strata",
          mode: "bridge",
          bridge: "cni-base",
          ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.42.0.0/16" }]], dataDir: join(work, "base") },
        },
      ],
    },
  };
  const standaloneLabel = "strata standalone (no agent)";
  const count = Math.max(iterations, concurrency);
  const pods = Array.from({ length: count }, (_, i) => `${podPrefix}${i}`);
  for (const p of pods) sh("ip", ["netns", "add", p]);
  const agent = await startAgent();
  // An agent of before the CNI-entry change listened on the abstract name @strata-cni.
  const baselineAgent = baselineDir ? await startAgent(baselineDir, "@strata-cni", "9948") : undefined;
  const rows: {
    label: string;
    mode: string;
    add: number[];
    del: number[];
    wallAdd: number;
    wallDel: number;
  }[] = [];
  try {
    const flavours = [
      reference,
      strata(agentLabel),
      strata(noGuard(agentLabel), undefined, false),
      strata(standaloneLabel, { STRATA_NO_AGENT: "1" }),
      strata(noGuard(standaloneLabel), { STRATA_NO_AGENT: "1" }, false),
      ...(baselineDir ? [baseline] : []),
    ].filter((f) => f === reference || !only || f.label.includes(only));
    // Warm-up: page cache, bridge creation, first-use costs, for every flavour.
    for (const f of flavours) await measure(f, cniPath, pods.slice(0, 3), 1);
    // Sequential runs take turns in rounds (order reversed every other round), so a load change
    // on a shared machine falls on every flavour alike; the with/without-guard ratio depends on it.
    const rounds = Math.max(1, Math.min(10, Math.floor(iterations / 8)));
    const seq = new Map(
      flavours.map((f) => [f.label, { add: [] as number[], del: [] as number[], wallAdd: 0, wallDel: 0 }]),
    );
    for (let round = 0; round < rounds; round++) {
      const chunk = pods.slice(0, Math.max(1, Math.round(iterations / rounds)));
      for (const f of round % 2 === 0 ? flavours : [...flavours].reverse()) {
        const m = await measure(f, cniPath, chunk, 1);
        const acc = seq.get(f.label);
        if (!acc) continue;
        acc.add.push(...m.add);
        acc.del.push(...m.del);
        acc.wallAdd += m.wallAdd;
        acc.wallDel += m.wallDel;
      }
    }
    for (const f of flavours) {
      const acc = seq.get(f.label);
      if (acc) rows.push({ label: f.label, mode: "sequential", ...acc });
    }
    for (const f of flavours) {
      rows.push({
        label: f.label,
        mode: `${concurrency} concurrent`,
        ...(await measure(f, cniPath, pods.slice(0, count), concurrency)),
      });
    }
  } finally {
    agent.kill("SIGTERM");
    baselineAgent?.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
  const ref = (mode: string) => rows.find((r) => r.label === reference.label && r.mode === mode);
  const fmt = (n: number) => n.toFixed(1).padStart(7);
  console.log(
    `CNI latency, ms (iterations ${iterations}, concurrency ${concurrency}; ratio = median / reference median)`,
  );
  console.log(
    `${"plugin".padEnd(30)} ${"mode".padEnd(14)} ${"ADD p50".padStart(7)} ${"ADD p95".padStart(7)} ${"ratio".padStart(6)}  ${"DEL p50".padStart(7)} ${"DEL p95".padStart(7)} ${"ratio".padStart(6)}`,
  );
  for (const r of rows) {
    const base = ref(r.mode);
    const ra = base ? median(r.add) / median(base.add) : Number.NaN;
    const rd = base ? median(r.del) / median(base.del) : Number.NaN;
    console.log(
      `${r.label.padEnd(30)} ${r.mode.padEnd(14)} ${fmt(median(r.add))} ${fmt(p95(r.add))} ${ra.toFixed(2).padStart(5)}×  ${fmt(median(r.del))} ${fmt(p95(r.del))} ${rd.toFixed(2).padStart(5)}×`,
    );
  }
  // The guard's own cost: each flavour against itself without it, same run (target: ADD p50 ≤ 1.05×).
  console.log("\nanti-spoofing cost (median with / median without the source guard)");
  for (const label of [agentLabel, standaloneLabel]) {
    for (const r of rows.filter((x) => x.label === label)) {
      const off = rows.find((x) => x.label === noGuard(label) && x.mode === r.mode);
      if (!off) continue;
      console.log(
        `${label.padEnd(30)} ${r.mode.padEnd(14)} ADD ${fmt(median(r.add))} / ${fmt(median(off.add))} = ${(median(r.add) / median(off.add)).toFixed(3)}×   DEL ${fmt(median(r.del))} / ${fmt(median(off.del))} = ${(median(r.del) / median(off.del)).toFixed(3)}×`,
      );
    }
  }
  if (!baselineDir) return;
  // The whole change against the baseline build: every new check (entry, source guard), and the
  // entry checks alone (this build with the guard off).
  console.log("\nagainst the baseline build (median this build / median baseline, same run)");
  for (const label of [agentLabel, noGuard(agentLabel)]) {
    for (const r of rows.filter((x) => x.label === label)) {
      const b = rows.find((x) => x.label === baselineLabel && x.mode === r.mode);
      if (!b) continue;
      console.log(
        `${label.padEnd(30)} ${r.mode.padEnd(14)} ADD ${fmt(median(r.add))} / ${fmt(median(b.add))} = ${(median(r.add) / median(b.add)).toFixed(3)}×   DEL ${fmt(median(r.del))} / ${fmt(median(b.del))} = ${(median(r.del) / median(b.del)).toFixed(3)}×`,
      );
    }
  }
}

if (args.includes("--inner")) await inner();
else outer();
