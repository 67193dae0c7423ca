/**
 * Per-model data path in the lab: iperf3 TCP throughput and ping latency pod→pod across nodes,
 * against the raw underlay (node→node) measured in the same lab, and against a hand-built kernel
 * configuration of the same model (routes / VXLAN device made with plain `ip` commands, no agent).
 * Also: convergence (a node joins → every other node has its route) and agent memory with 1,000
 * simulated remote nodes. ipip and gre rows are compared with the hand-built VXLAN of the same
 * run (×hand); so are the wireguard rows, with the CPU they cost: CPU-seconds per second (cores) of
 * the iperf3 client and server and of both nodes' wireguard-go, per Gbit/s (the hand-built VXLAN
 * row shows the same figure for its iperf3 processes, whose system time carries the kernel's
 * encapsulation). Usage: node dist/bench/lab-models.js [--seconds S] [--rounds R] [--only MODEL,...]
 * (--only: just that model's data path, no convergence or memory runs)
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { labPaths } from "../src/cli/paths.js";
import { type Kernel, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { rttMicros, throughputGbps } from "../src/lab/measure.js";
import { labDir, labDown, labUp } from "../src/lab/runner.js";
import type { LabModel, LabSpec } from "../src/lab/topology.js";
import { median } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1]) || 3;
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const kernel = createIproute2Kernel();
const paths = labPaths();
const quiet = <T>(_l: string, fn: () => Promise<T>) => fn();
const spec = (model: LabModel, underlay: "l2" | "l3", nodes = 2): LabSpec => ({
  model,
  nodes,
  podsPerNode: 1,
  underlay,
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
});

const throughput = (k: Kernel, fromNs: string, toNs: string, toIp: string) =>
  throughputGbps(k, fromNs, toNs, toIp, seconds);
const latency = (k: Kernel, fromNs: string, toIp: string) => rttMicros(k, fromNs, toIp);

interface Row {
  label: string;
  gbps: number;
  us: number;
  /** Cores busy per Gbit/s (iperf3 client + server, and wireguard-go where it runs). */
  cpuPerGbps?: number;
}

const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime + stime of a process (all its threads), seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** The wireguard-go processes inside a namespace (by `ip netns pids` and their comm). */
function wireguardGoPids(ns: string): number[] {
  return execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" })
    .split("\n")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "wireguard-go";
      } catch {
        return false;
      }
    });
}

/**
 * iperf3 TCP throughput and the CPU it took: the client's and server's own CPU time (read until
 * each exits) plus that of `daemons` (wireguard-go) over the same interval, per Gbit/s.
 */
async function throughputWithCpu(
  fromNs: string,
  toNs: string,
  toIp: string,
  daemons: readonly number[],
): Promise<{ gbps: number; cpuPerGbps: number }> {
  const server = spawn("ip", ["netns", "exec", toNs, "iperf3", "-s", "-1", "-B", toIp], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  const client = spawn("ip", ["netns", "exec", fromNs, "iperf3", "-c", toIp, "-t", String(seconds), "-J"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  client.stdout.on("data", (d) => (out += d));
  const daemonStart = daemons.map((p) => cpuSeconds(p) ?? 0);
  const last = new Map<number, number>();
  const sample = () => {
    for (const pid of [server.pid, client.pid]) {
      const c = pid ? cpuSeconds(pid) : undefined;
      if (pid && c !== undefined) last.set(pid, c);
    }
  };
  const started = performance.now();
  const poll = setInterval(sample, 100);
  await new Promise((r) => client.on("close", r));
  clearInterval(poll);
  const wall = (performance.now() - started) / 1000;
  const daemonCpu = daemons.reduce((sum, p, i) => sum + ((cpuSeconds(p) ?? 0) - (daemonStart[i] ?? 0)), 0);
  server.kill();
  const iperfCpu = [...last.values()].reduce((a, b) => a + b, 0);
  const j = JSON.parse(out || "{}") as { end?: { sum_received?: { bits_per_second: number } } };
  const gbps = (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  return { gbps, cpuPerGbps: gbps > 0 ? (iperfCpu + daemonCpu) / wall / gbps : Number.NaN };
}

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 3;
const medianRow = (label: string, runs: Row[]): Row => ({
  label,
  gbps: median(runs.map((r) => r.gbps)),
  us: median(runs.map((r) => r.us)),
  ...(runs.some((r) => r.cpuPerGbps !== undefined)
    ? { cpuPerGbps: median(runs.map((r) => r.cpuPerGbps ?? Number.NaN)) }
    : {}),
});

/** Pod→pod and node→node in one lab. */
async function measureLab(
  model: LabModel,
  underlay: "l2" | "l3",
  podAttachment?: "bridge" | "routed",
): Promise<{ pod: Row; raw: Row }> {
  const attach = podAttachment ? { podAttachment } : {};
  const state = await labUp(kernel, { ...spec(model, underlay), ...attach }, paths, quiet);
  try {
    const [a, b] = state.pods;
    const [n1, n2] = state.nodes;
    if (!a || !b || !n1 || !n2) throw new Error("lab incomplete");
    // Interleave the two paths and keep medians: this VM's throughput drifts between runs.
    const podRuns: Row[] = [];
    const rawRuns: Row[] = [];
    for (let i = 0; i < rounds; i++) {
      rawRuns.push({
        label: "",
        gbps: await throughput(kernel, n1.ns, n2.ns, n2.ip),
        us: await latency(kernel, n1.ns, n2.ip),
      });
      // wireguard: its daemons' CPU counts against the throughput too.
      const daemons =
        model === "wireguard" ? [...wireguardGoPids(n1.ns), ...wireguardGoPids(n2.ns)] : undefined;
      const t = daemons
        ? await throughputWithCpu(a.ns, b.ns, b.ip, daemons)
        : { gbps: await throughput(kernel, a.ns, b.ns, b.ip) };
      podRuns.push({ label: "", ...t, us: await latency(kernel, a.ns, b.ip) });
    }
    return {
      pod: medianRow(
        `${model} (${underlay}${podAttachment === "bridge" ? ", pods on cni0" : ""}) pod→pod`,
        podRuns,
      ),
      raw: medianRow(`raw underlay (${underlay}) node→node`, rawRuns),
    };
  } finally {
    await labDown(kernel);
  }
}

/** The same model wired by hand: the lab's underlay and pods, but routes/VXLAN made with ip(8). */
async function measureHandBuilt(model: "host-gw" | "vxlan", underlay: "l2" | "l3"): Promise<Row> {
  const state = await labUp(kernel, { ...spec(model, underlay), podsPerNode: 1 }, paths, quiet);
  try {
    // Stop the agents and strip what they made, then wire the model by hand.
    for (const n of state.nodes) process.kill(n.pid, "SIGKILL");
    const [n1, n2] = state.nodes;
    const [a, b] = state.pods;
    if (!n1 || !n2 || !a || !b) throw new Error("lab incomplete");
    const sh = (ns: string, ...args: string[]) =>
      execFileSync("ip", ["-n", ns, ...args], { stdio: "ignore" });
    const flush = (ns: string) => {
      for (const line of execFileSync("ip", ["-n", ns, "route", "show", "proto", "147"], { encoding: "utf8" })
        .split("\n")
        .filter(Boolean)) {
        sh(ns, "route", "del", ...line.trim().split(/\s+/));
      }
      try {
        sh(ns, "link", "del", "strata.1");
      } catch {
        // host-gw has none
      }
    };
    flush(n1.ns);
    flush(n2.ns);
    const nodes = [n1, n2];
    const vtepMac = (i: number) => `02:00:00:00:01:0${i + 1}`;
    const vtep = (subnet: string) => subnet.replace(/\/24$/, "");
    for (const [i, self] of nodes.entries()) {
      const peer = nodes[1 - i] as typeof self;
      if (model === "host-gw") {
        sh(self.ns, "route", "add", peer.subnet, "via", peer.ip, "dev", "eth0");
        continue;
      }
      sh(
        self.ns,
        "link",
        "add",
        "name",
        "vx0",
        "address",
        vtepMac(i),
        "mtu",
        "1450",
        "type",
        "vxlan",
        "id",
        "7",
        "dstport",
        "8472",
        "local",
        self.ip,
        "dev",
        "eth0",
        "nolearning",
      );
      sh(self.ns, "addr", "add", `${vtep(self.subnet)}/32`, "dev", "vx0");
      sh(self.ns, "link", "set", "vx0", "up");
      execFileSync("bridge", [
        "-n",
        self.ns,
        "fdb",
        "append",
        vtepMac(1 - i),
        "dev",
        "vx0",
        "dst",
        peer.ip,
        "self",
        "permanent",
      ]);
      sh(
        self.ns,
        "neigh",
        "replace",
        vtep(peer.subnet),
        "lladdr",
        vtepMac(1 - i),
        "dev",
        "vx0",
        "nud",
        "permanent",
      );
      sh(self.ns, "route", "add", peer.subnet, "via", vtep(peer.subnet), "dev", "vx0", "onlink");
    }
    const runs: Row[] = [];
    for (let i = 0; i < rounds; i++) {
      // The CPU figure too, to set beside wireguard's (the kernel's VXLAN work shows as iperf3's system time).
      const t = await throughputWithCpu(a.ns, b.ns, b.ip, []);
      runs.push({ label: "", ...t, us: await latency(kernel, a.ns, b.ip) });
    }
    return medianRow(`hand-built ${model} (${underlay}) pod→pod`, runs);
  } finally {
    await labDown(kernel);
  }
}

/** A third node joins a running lab: time until both others have its route. */
async function convergence(): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const state = await labUp(kernel, { ...spec("host-gw", "l2", 3), podsPerNode: 0 }, paths, quiet);
    try {
      const [n1, n2, n3] = state.nodes;
      if (!n1 || !n2 || !n3) throw new Error("lab incomplete");
      // Take n3 out (agent stopped, lease revoked by expiry is slow: delete its key), then rejoin.
      process.kill(n3.pid, "SIGKILL");
      const hasRoute = async (ns: string) =>
        (await kernel.routes(namedNetns(ns), { family: 4 })).some(
          (r) => r.dst === n3.subnet && r.proto === "147",
        );
      // Wait for n3's lease to expire everywhere (TTL 10 s in the lab).
      while ((await hasRoute(n1.ns)) || (await hasRoute(n2.ns))) await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      const child = spawn(
        "ip",
        [
          "netns",
          "exec",
          n3.ns,
          process.execPath,
          paths.cliScript,
          "agent",
          "--node",
          "n3",
          "--backend",
          "host-gw",
          ...state.agentDatastoreArgs,
          "--state-dir",
          `${labDir}/n3`,
          "--heartbeat-ttl",
          "10",
        ],
        { stdio: "ignore" },
      );
      while (!((await hasRoute(n1.ns)) && (await hasRoute(n2.ns))))
        await new Promise((r) => setTimeout(r, 10));
      samples.push(performance.now() - started);
      child.kill("SIGKILL");
    } finally {
      await labDown(kernel);
    }
  }
  return samples;
}

async function main(): Promise<void> {
  const rows: { model: Row; raw: Row; hand?: Row }[] = [];
  const cases: readonly (readonly [LabModel, "l2" | "l3", ("bridge" | "routed")?])[] = [
    ["host-gw", "l2"],
    ["vxlan", "l2"],
    ["vxlan", "l3"],
    ["vxlan-crosssubnet", "l3"],
    ["bgp", "l2"],
    ["bgp", "l3"],
    ["ipip", "l2"],
    // ipip's pods attach routed; on cni0 (Flannel's bridge) this kernel segments what the tc-BPF
    // datapath decapsulates in software: shown, not hidden.
    ["ipip", "l2", "bridge"],
    ["ipip", "l3"],
    ["gre", "l2"],
    ["gre", "l3"],
    ["wireguard", "l2"],
    ["wireguard", "l3"],
    ["sleeve", "l2"],
    ["sleeve", "l3"],
  ];
  for (const [model, underlay, attach] of cases) {
    if (only && !only.split(",").includes(model)) continue;
    const m = await measureLab(model, underlay, attach);
    // ipip, gre, wireguard and sleeve against the hand-built kernel VXLAN on the same underlay
    // (issue 12's target: IPIP ≥ 1.0× its throughput; issue 13's: sleeve ≥ 0.3×, wireguard
    // reported); each reference is measured right after its row (this VM's throughput drifts, a
    // reference from minutes earlier would not compare).
    const tunnel = model === "ipip" || model === "gre" || model === "wireguard" || model === "sleeve";
    const handModel = tunnel ? "vxlan" : model;
    const hand =
      handModel === "host-gw" || handModel === "vxlan"
        ? await measureHandBuilt(handModel, underlay)
        : undefined;
    rows.push({ model: m.pod, raw: m.raw, hand });
  }
  console.log(
    `lab data path (iperf3 TCP ${seconds} s, ping median of 30; medians of ${rounds} interleaved rounds; ratios against the same run)`,
  );
  console.log(
    `${"path".padEnd(40)} ${"Gbit/s".padStart(7)} ${"RTT µs".padStart(7)}  ${"×raw".padStart(6)} ${"×hand".padStart(6)} ${"cores/Gbit/s".padStart(12)}`,
  );
  for (const r of rows) {
    const f = (row: Row, raw?: Row, hand?: Row) =>
      `${row.label.padEnd(40)} ${row.gbps.toFixed(2).padStart(7)} ${row.us.toFixed(0).padStart(7)}  ${(raw ? (row.gbps / raw.gbps).toFixed(2) : "").padStart(6)} ${(hand ? (row.gbps / hand.gbps).toFixed(2) : "").padStart(6)} ${(row.cpuPerGbps !== undefined ? row.cpuPerGbps.toFixed(3) : "").padStart(12)}`;
    console.log(f(r.raw));
    if (r.hand) console.log(f(r.hand, r.raw));
    console.log(f(r.model, r.raw, r.hand));
  }
  if (only) return;
  const conv = await convergence();
  console.log(
    `\nconvergence (host-gw, a node rejoins → both other nodes route to it): median ${median(conv).toFixed(0)} ms of ${conv.map((c) => c.toFixed(0)).join(", ")}`,
  );
  const rss = execFileSync(process.execPath, [join(root, "dist/bench/agent-rss.js")], { encoding: "utf8" });
  console.log(rss.trim());
}

await main();
