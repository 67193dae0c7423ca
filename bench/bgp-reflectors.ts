/**
 * bgperf-style route-reflector benchmark: N peers each announce M prefixes through a reflector;
 * measured: the time from the first announcement until every peer holds every other peer's routes,
 * and the reflector's peak memory. Strata's speaker, BIRD 2 and GoBGP are the reflector in turn,
 * with the same peers (bench/bgp-tester.ts), interleaved over rounds; medians and ratios printed.
 * Everything runs in two namespaces of its own (strata-bench-rr, strata-bench-peers).
 *
 * Usage: node dist/bench/bgp-reflectors.js [PEERS] [PREFIXES] [ROUNDS]   (defaults 100 1000 3)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../src/common/eventually.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { removeNamespaces } from "../src/kernel/remove-namespaces.js";
import { median } from "./stats.js";

const [peers = 100, prefixes = 1000, rounds = 3] = process.argv.slice(2).map(Number);
const rrNs = "strata-bench-rr";
const peersNs = "strata-bench-peers";
const rrIp = "10.100.0.1";
const base = "10.100.1";
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../..");
const dir = mkdtempSync(join(tmpdir(), "strata-bgp-bench-"));
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

const tearDown = () => removeNamespaces(createIproute2Kernel(), "strata-bench-");

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

const reflectors: Reflector[] = [
  {
    name: "strata",
    async start() {
      const args = [
        ...["--asn", "64512", "--router-id", rrIp, "--cluster-id", rrIp, "--listen", "179", "--quiet"],
        ...peerAddresses().flatMap((a) => ["--peer", `${a},as=64512,rr-client,passive`]),
      ];
      const p = inRr([process.execPath, join(repo, "bin/strata.js"), "bgp-speaker", ...args]);
      await listening();
      return p.pid ?? -1;
    },
  },
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

const kib = (pid: number, field: "VmHWM" | "VmRSS") => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? Number.NaN);
};

interface Sample {
  convergedMs: number;
  peakMiB: number;
}

async function runOnce(r: Reflector): Promise<Sample> {
  await setUp();
  const pid = await r.start();
  const out = execFileSync(
    "ip",
    [
      ...["netns", "exec", peersNs, process.execPath, join(here, "bgp-tester.js")],
      ...[rrIp, base, String(peers), String(prefixes)],
    ],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(out.trim()) as { convergedMs?: number; error?: string; timeout?: boolean };
  const peakMiB = kib(pid, "VmHWM") / 1024;
  await tearDown();
  if (result.convergedMs === undefined) throw new Error(`${r.name}: ${out.trim()}`);
  return { convergedMs: result.convergedMs, peakMiB };
}

// BGP_REFLECTORS=strata,bird runs a subset (GoBGP is far slower at full scale on 2 cores).
const chosen = (process.env.BGP_REFLECTORS ?? "strata,bird,gobgp").split(",");
reflectors.splice(0, reflectors.length, ...reflectors.filter((r) => chosen.includes(r.name)));
const samples = new Map<string, Sample[]>(reflectors.map((r) => [r.name, []]));
try {
  console.log(`route reflector: ${peers} peers × ${prefixes} prefixes each, ${rounds} interleaved rounds`);
  for (let round = 1; round <= rounds; round++) {
    for (const r of reflectors) {
      const s = await runOnce(r);
      samples.get(r.name)?.push(s);
      console.log(
        `  round ${round} ${r.name.padEnd(6)} converged ${s.convergedMs} ms, peak RSS ${s.peakMiB.toFixed(0)} MiB`,
      );
    }
  }
  const med = (name: string, k: keyof Sample) => median((samples.get(name) ?? []).map((s) => s[k]));
  console.log(
    `\n${"reflector".padEnd(10)} ${"converged ms".padStart(13)} ${"peak MiB".padStart(9)} ${"time ×BIRD".padStart(11)} ${"time ×GoBGP".padStart(12)}`,
  );
  for (const r of reflectors) {
    const t = med(r.name, "convergedMs");
    const ratio = (ref: string) => (samples.has(ref) ? (t / med(ref, "convergedMs")).toFixed(2) : "—");
    console.log(
      `${r.name.padEnd(10)} ${t.toFixed(0).padStart(13)} ${med(r.name, "peakMiB").toFixed(0).padStart(9)} ${ratio("bird").padStart(11)} ${ratio("gobgp").padStart(12)}`,
    );
  }
} finally {
  await tearDown();
  rmSync(dir, { recursive: true, force: true });
}
