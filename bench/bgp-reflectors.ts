/**
 * bgperf-style route-reflector benchmark: N peers each announce M prefixes, P per UPDATE, through
 * a reflector; measured: the time from the first announcement until every peer holds every
 * *distinct* prefix of the others (a route reflected back to its originator, or sent twice, earns
 * nothing), the reflector's CPU time over the run (utime + stime, /proc/PID/stat) and its peak
 * memory (VmHWM). Strata's speaker, BIRD 2, FRR's bgpd (alone, coalesce-time 0) and GoBGP are the
 * reflector in turn with the same load (bench/bgp-tester.ts), interleaved over rounds; medians
 * and ratios to BIRD and FRR from the same run. Everything runs in two namespaces of its own
 * (strata-bench-rr, strata-bench-peers).
 *
 * Usage: node dist/bench/bgp-reflectors.js [--peers 100] [--prefixes 1000] [--pack 1,10,100,1000]
 *          [--rounds 3] [--reflectors strata,bird,frr,gobgp] [--timeout SECONDS]
 *          (strata: as by default, warmed up before the burst; strata-cold: with --no-warm-up)
 *          [--strata-node-flags="--cpu-prof --cpu-prof-dir=DIR"]  (Strata then stops on SIGTERM: profiles get written)
 *          (what Strata's peak RSS is made of: STRATA_MEMORY_SAMPLES=/tmp/mem-%p.json and
 *           --strata-node-flags=--import=$PWD/dist/bench/memory-sampler.js; it gets SIGUSR2 at convergence)
 *        (the old positional form PEERS PREFIXES ROUNDS still works; BGP_REFLECTORS=strata,bird too)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { eventually } from "../src/common/eventually.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { removeNamespaces } from "../src/kernel/remove-namespaces.js";
import { Frr } from "../test/support/frr.js";
import { median } from "./stats.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    peers: { type: "string" },
    prefixes: { type: "string" },
    pack: { type: "string", default: "1,10,100,1000" },
    rounds: { type: "string" },
    reflectors: { type: "string" },
    timeout: { type: "string", default: "300" },
    /** Node flags for Strata's speaker (e.g. --strata-node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"); it then stops on SIGTERM, so profiles get written. */
    "strata-node-flags": { type: "string", default: "" },
  },
});
const peers = Number(values.peers ?? positionals[0] ?? 100);
const prefixes = Number(values.prefixes ?? positionals[1] ?? 1000);
const rounds = Number(values.rounds ?? positionals[2] ?? 3);
const packs = values.pack.split(",").map(Number);
const timeoutMs = Number(values.timeout) * 1000;
for (const [flag, n] of [
  ["--peers", peers],
  ["--prefixes", prefixes],
  ["--rounds", rounds],
  ["--timeout", timeoutMs],
] as const)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive whole number`);
if (peers > 254) throw new Error("--peers: at most 254 (one address each in 10.100.1.0/24)");
if (packs.some((p) => !Number.isInteger(p) || p < 1))
  throw new Error("--pack: positive whole numbers, comma-separated");
const rrNs = "strata-bench-rr";
const peersNs = "strata-bench-peers";
const rrIp = "10.100.0.1";
const base = "10.100.1";
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../..");
const dir = mkdtempSync(join(tmpdir(), "strata-bgp-bench-"));
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

/** Only this bench's two namespaces (other benches' strata-bench-* ones may be in use). */
const tearDown = async () => {
  await removeNamespaces(createIproute2Kernel(), rrNs);
  await removeNamespaces(createIproute2Kernel(), peersNs);
};

async function setUp(): Promise<void> {
  await tearDown();
  ip("netns", "add", rrNs);
  ip("netns", "add", peersNs);
  ip("-n", rrNs, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peersNs);
  ip("-n", rrNs, "addr", "add", `${rrIp}/16`, "dev", "eth0");
  const batch = Array.from({ length: peers }, (_, i) => `addr add ${base}.${i + 1}/16 dev eth0`).join("\n");
  execFileSync("ip", ["-n", peersNs, "-batch", "-"], { input: `${batch}\n` });
  for (const ns of [rrNs, peersNs]) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", "eth0", "up");
  }
}

const peerAddresses = () => Array.from({ length: peers }, (_, i) => `${base}.${i + 1}`);

interface Reflector {
  readonly name: string;
  /** Start it; resolves with its pid once it listens on 179. */
  start(): Promise<number>;
  /** Its own view of the sessions, printed when a round times out (what it sent each peer). */
  diagnose?(): string;
}

const inRr = (argv: string[], out = "ignore"): ChildProcess =>
  spawn("ip", ["netns", "exec", rrNs, ...argv], {
    stdio: ["ignore", out === "ignore" ? "ignore" : "pipe", "ignore"],
  });

const listening = () =>
  eventually(
    () =>
      execFileSync("ip", ["netns", "exec", rrNs, "ss", "-Htln", "sport = :179"], {
        encoding: "utf8",
      }).trim() !== "",
    "reflector listening",
    { timeoutMs: 30_000 },
  );

/**
 * Strata's speaker as configured by default (it warms up once listening: the bench starts the load
 * after its "warmed-up" line, so the warm-up's CPU is not counted); `cold`: with --no-warm-up.
 */
const strata = (name: string, cold: boolean): Reflector => ({
  name,
  async start() {
    const args = [
      ...["--asn", "64512", "--router-id", rrIp, "--cluster-id", rrIp, "--listen", "179", "--quiet"],
      ...(cold ? ["--no-warm-up"] : []),
      ...peerAddresses().flatMap((a) => ["--peer", `${a},as=64512,rr-client,passive`]),
    ];
    const flags = values["strata-node-flags"].split(" ").filter(Boolean);
    const p = inRr([process.execPath, ...flags, join(repo, "bin/strata.js"), "bgp-speaker", ...args], "pipe");
    let out = "";
    // Read to the end (a full pipe would stall it); ready once listening and, by default, warmed up.
    p.stdout?.setEncoding("utf8").on("data", (d: string) => {
      if (out.length < 1 << 16) out += d;
    });
    await listening();
    if (!cold)
      await eventually(() => out.includes('"event":"warmed-up"'), "warm-up done", { timeoutMs: 30_000 });
    return p.pid ?? -1;
  },
});

/** An empty `node` in the reflector's namespace: its peak RSS, the floor of any Node process (MiB). */
async function nodeFloorMiB(): Promise<number> {
  const p = inRr([process.execPath, "-e", "setInterval(() => {}, 1000)"]);
  // ip netns exec execs node in place: the pid is node's.
  const pid = p.pid ?? -1;
  await new Promise((r) => setTimeout(r, 500));
  const mib = kib(pid, "VmHWM") / 1024;
  p.kill("SIGTERM");
  await new Promise((r) => p.once("exit", r));
  return mib;
}

const reflectors: Reflector[] = [
  strata("strata", false),
  strata("strata-cold", true),
  {
    name: "bird",
    async start() {
      const conf = `router id ${rrIp};
protocol device {}
template bgp reflected {
  local ${rrIp} as 64512;
  rr client; rr cluster id ${rrIp};
  direct; passive on; hold time 180;
  ipv4 { import all; export all; gateway direct; };
}
${peerAddresses()
  .map((a, i) => `protocol bgp p${i + 1} from reflected { neighbor ${a} as 64512; }`)
  .join("\n")}
`;
      writeFileSync(join(dir, "bird.conf"), conf);
      inRr([
        "bird",
        "-f",
        "-c",
        join(dir, "bird.conf"),
        "-s",
        join(dir, "bird.ctl"),
        "-P",
        join(dir, "bird.pid"),
      ]);
      await listening();
      return Number(readFileSync(join(dir, "bird.pid"), "utf8"));
    },
  },
  {
    name: "frr",
    async start() {
      // bgpd alone (no zebra, no kernel routes), as the FRR interop tests run it; coalesce-time 0
      // so it sends as soon as it has something (its default holds updates back up to 1 s).
      const conf = [
        "frr defaults traditional",
        "router bgp 64512",
        ` bgp router-id ${rrIp}`,
        ` bgp cluster-id ${rrIp}`,
        " no bgp default ipv4-unicast",
        " coalesce-time 0",
        " timers bgp 60 180",
        " neighbor clients peer-group",
        " neighbor clients remote-as 64512",
        " neighbor clients passive",
        " neighbor clients advertisement-interval 0",
        ...peerAddresses().map((a) => ` neighbor ${a} peer-group clients`),
        " address-family ipv4 unicast",
        "  neighbor clients activate",
        "  neighbor clients route-reflector-client",
        " exit-address-family",
        "",
      ].join("\n");
      const frr = new Frr(rrNs, dir, `frr-${Date.now()}`, conf);
      this.diagnose = () => frr.vtysh("show bgp ipv4 unicast summary");
      await frr.start();
      await listening();
      return Number(readFileSync(join(frr.dir, "bgpd.pid"), "utf8"));
    },
  },
  {
    name: "gobgp",
    async start() {
      const toml = `[global.config]
  as = 64512
  router-id = "${rrIp}"
  local-address-list = ["${rrIp}"]
${peerAddresses()
  .map(
    (a) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${a}"
    peer-as = 64512
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "${rrIp}"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
  )
  .join("")}`;
      writeFileSync(join(dir, "gobgpd.toml"), toml);
      const p = inRr(["gobgpd", "-f", join(dir, "gobgpd.toml"), "--api-hosts", "127.0.0.1:50051"]);
      await listening();
      return p.pid ?? -1;
    },
  },
];

const kib = (pid: number, field: "VmHWM" | "VmRSS" | "RssAnon") => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? Number.NaN);
};
const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
/** The process's CPU time so far (every thread, user + system), from /proc/PID/stat. */
const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may hold spaces) start at state: utime and stime are 14 and 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond;
};

interface Sample {
  convergedMs: number;
  cpuMs: number;
  peakMiB: number;
  /** Anonymous memory (heap, stacks: not the program's mapped code) at convergence. */
  anonMiB: number;
  /** NLRI that brought a peer nothing new (reflected back to their originator, or repeated). */
  duplicates: number;
  /** Set when it did not converge in time: the fewest distinct prefixes a peer held. */
  timedOut?: { minHeld: number; expected: number };
  /** Set when the round failed (a session dropped or never came up): why. */
  failed?: string;
}

/** Run the load in its namespace; resolves with its result line while its sessions are still up. */
function runTester(pack: number): Promise<{ line: string; tester: ChildProcess }> {
  const tester = spawn(
    "ip",
    [
      ...["netns", "exec", peersNs, process.execPath, join(here, "bgp-tester.js")],
      ...[rrIp, base, String(peers), String(prefixes), String(pack)],
    ],
    {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, BGP_TESTER_TIMEOUT_MS: String(timeoutMs), BGP_TESTER_HOLD: "1" },
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    tester.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ line: out.slice(0, nl), tester });
    });
    tester.on("error", reject);
    tester.on("exit", (code) => reject(new Error(`load tool exited (${code}) before a result: ${out}`)));
  });
}

/** SIGTERM, then wait (up to 5 s) for the process to go: its exit hooks (a --cpu-prof profile) run. */
async function stopGently(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  await eventually(() => !existsSync(`/proc/${pid}`), "reflector stopped", { timeoutMs: 5000 }).catch(
    () => {},
  );
}

async function runOnce(r: Reflector, pack: number): Promise<Sample> {
  await setUp();
  const pid = await r.start();
  const cpuBefore = cpuMs(pid);
  const { line, tester } = await runTester(pack);
  // With bench/memory-sampler.js preloaded (--strata-node-flags): its breakdown at convergence.
  if (r.name.startsWith("strata") && process.env.STRATA_MEMORY_SAMPLES) process.kill(pid, "SIGUSR2");
  // Read while every session is still up: the cost of converging, not of tearing down.
  const sample = {
    cpuMs: cpuMs(pid) - cpuBefore,
    peakMiB: kib(pid, "VmHWM") / 1024,
    anonMiB: kib(pid, "RssAnon") / 1024,
  };
  const parsed = JSON.parse(line) as { timeout?: boolean; error?: string };
  if ((parsed.timeout || parsed.error) && r.diagnose) {
    try {
      console.log(r.diagnose());
    } catch (err) {
      console.log(`(no diagnosis: ${(err as Error).message})`);
    }
  }
  tester.removeAllListeners("exit");
  const exited = new Promise((r) => tester.once("exit", r));
  tester.stdin?.end();
  await exited;
  if (r.name.startsWith("strata") && values["strata-node-flags"]) await stopGently(pid);
  await tearDown();
  const result = JSON.parse(line) as {
    convergedMs?: number;
    error?: string;
    timeout?: boolean;
    minHeld?: number;
    expected?: number;
    duplicates?: number;
  };
  const duplicates = result.duplicates ?? 0;
  if (result.timeout)
    return {
      ...sample,
      duplicates,
      convergedMs: Number.NaN,
      timedOut: { minHeld: result.minHeld ?? 0, expected: result.expected ?? 0 },
    };
  // A session dropped or never up: this round failed (counted as slower than any that converged).
  if (result.convergedMs === undefined)
    return { ...sample, duplicates, convergedMs: Number.NaN, failed: result.error ?? line };
  return { ...sample, duplicates, convergedMs: result.convergedMs };
}

const chosen = (values.reflectors ?? process.env.BGP_REFLECTORS ?? "strata,bird,frr,gobgp").split(",");
reflectors.splice(0, reflectors.length, ...reflectors.filter((r) => chosen.includes(r.name)));
const samples = new Map<string, Sample[]>();
const key = (name: string, pack: number) => `${name}/${pack}`;
const fmt = (n: number) => (Number.isNaN(n) ? "—" : n.toFixed(0));
try {
  console.log(
    `route reflector: ${peers} peers × ${prefixes} prefixes each, packed ${packs.join(", ")} per UPDATE, ${rounds} interleaved rounds`,
  );
  await setUp();
  const floor = await nodeFloorMiB();
  await tearDown();
  console.log(
    `  an empty node: peak RSS ${floor.toFixed(1)} MiB (the floor of any Node process, Strata's too)`,
  );
  for (const pack of packs) {
    for (let round = 1; round <= rounds; round++) {
      for (const r of reflectors) {
        const s = await runOnce(r, pack);
        samples.set(key(r.name, pack), [...(samples.get(key(r.name, pack)) ?? []), s]);
        console.log(
          `  pack ${pack} round ${round} ${r.name.padEnd(6)} ${s.failed ? `FAILED (${s.failed})` : s.timedOut ? `timed out (a peer held ${s.timedOut.minHeld} of ${s.timedOut.expected})` : `converged ${s.convergedMs} ms`}, CPU ${fmt(s.cpuMs)} ms, peak RSS ${s.peakMiB.toFixed(0)} MiB (anonymous ${s.anonMiB.toFixed(0)}), duplicates ${s.duplicates}`,
        );
      }
    }
  }
  const med = (name: string, pack: number, k: "convergedMs" | "cpuMs" | "peakMiB" | "anonMiB") => {
    const all = samples.get(key(name, pack)) ?? [];
    // A round that timed out counts as slower than any that converged.
    return median(
      all.map((s) => (k === "convergedMs" && (s.timedOut || s.failed) ? Number.POSITIVE_INFINITY : s[k])),
    );
  };
  const ratio = (name: string, pack: number, ref: string, k: "convergedMs" | "peakMiB" | "anonMiB") =>
    samples.has(key(ref, pack)) ? (med(name, pack, k) / med(ref, pack, k)).toFixed(2) : "—";
  console.log(
    `\n${"pack".padStart(5)} ${"reflector".padEnd(11)} ${"converged ms".padStart(13)} ${"CPU ms".padStart(8)} ${"peak MiB".padStart(9)} ${"time ×BIRD".padStart(11)} ${"time ×FRR".padStart(10)} ${"RSS ×BIRD".padStart(10)} ${"anon MiB".padStart(9)} ${"anon ×BIRD".padStart(11)}`,
  );
  for (const pack of packs) {
    for (const r of reflectors) {
      const t = med(r.name, pack, "convergedMs");
      console.log(
        `${String(pack).padStart(5)} ${r.name.padEnd(11)} ${(Number.isFinite(t) ? t.toFixed(0) : "timeout").padStart(13)} ${fmt(med(r.name, pack, "cpuMs")).padStart(8)} ${med(r.name, pack, "peakMiB").toFixed(0).padStart(9)} ${ratio(r.name, pack, "bird", "convergedMs").padStart(11)} ${ratio(r.name, pack, "frr", "convergedMs").padStart(10)} ${ratio(r.name, pack, "bird", "peakMiB").padStart(10)} ${med(r.name, pack, "anonMiB").toFixed(0).padStart(9)} ${ratio(r.name, pack, "bird", "anonMiB").padStart(11)}`,
      );
    }
    if (samples.has(key("bird", pack)))
      console.log(
        `${String(pack).padStart(5)} ${"(node)".padEnd(11)} ${"".padStart(13)} ${"".padStart(8)} ${floor.toFixed(0).padStart(9)} ${"".padStart(11)} ${"".padStart(10)} ${(floor / med("bird", pack, "peakMiB")).toFixed(2).padStart(10)}   ← an empty node's RSS × BIRD`,
      );
  }
} finally {
  await tearDown();
  rmSync(dir, { recursive: true, force: true });
}
