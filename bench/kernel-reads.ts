/**
 * What an agent's start reads and writes of its node's namespace, per call: `addresses(ns, dev)`,
 * `link(ns, dev)`, `links(ns)`, a `sysctl` read and a `sysctl.set` write, through the iproute2
 * driver (one `ip`/`cat`/`sh` process a call: Node's own spawn, and the spawn-helper pool of 4 the
 * agent host shares) and the rtnetlink driver (in-process: netlink dumps, /proc/sys opened in the
 * namespace), in the same run. Then a burst: 25 agents' worth of those calls at once (an agent
 * host starting its agents), wall time to the last answer.
 * Usage: node dist/bench/kernel-reads.js [--iterations N]   (root; a throwaway strata-b- namespace)
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Kernel, type KernelOp, type Netns, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel, spawnProgram } from "../src/kernel/iproute2/index.js";
import { loadRtnetlinkAddon, withRtnetlink } from "../src/kernel/rtnetlink/driver.js";
import { SpawnPool } from "../src/process/spawn-pool.js";
import { median, p95 } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const iterations = Number(process.argv[process.argv.indexOf("--iterations") + 1]) || 200;
const burstAgents = 25;
const nsName = `strata-b-kread-${process.pid}`;
const ns: Netns = namedNetns(nsName);

const forward: KernelOp = { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" };
const calls: readonly [string, (k: Kernel) => Promise<unknown>][] = [
  ["addresses(ns, dev)", (k) => k.addresses(ns, "u0")],
  ["link(ns, dev)", (k) => k.link(ns, "u0")],
  ["links(ns)", (k) => k.links(ns)],
  ["sysctl read", (k) => k.sysctl(ns, "net.ipv4.ip_forward")],
  ["sysctl.set", (k) => k.apply(ns, [forward])],
];

async function perCall(k: Kernel, call: (k: Kernel) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 5; i++) await call(k); // warm up
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await call(k);
    out.push(performance.now() - t);
  }
  return out;
}

/** `burstAgents` agents' start reads at once, each agent's calls in turn: ms to the last answer. */
async function burst(k: Kernel): Promise<number> {
  const t = performance.now();
  await Promise.all(
    Array.from({ length: burstAgents }, async () => {
      for (const [, call] of calls) await call(k);
    }),
  );
  return performance.now() - t;
}

function cleanup(): void {
  try {
    execFileSync("ip", ["netns", "del", nsName], { stdio: "ignore" });
  } catch {
    // not there
  }
}

const addon = loadRtnetlinkAddon();
if (!addon) throw new Error("the rtnetlink addon is not built (npm run build): nothing to compare");
cleanup();
const helper = join(root, "dist/shim/strata-spawn-helper");
const pool = existsSync(helper) ? new SpawnPool(helper, 4, spawnProgram) : undefined;
try {
  execFileSync("ip", ["netns", "add", nsName]);
  const setup = createIproute2Kernel();
  await setup.apply(ns, [
    { op: "link.add", spec: { kind: "veth", name: "u0", peer: { name: "u1" } } },
    { op: "link.add", spec: { kind: "bridge", name: "br0" } },
    { op: "link.set", name: "u1", master: "br0", up: true },
    { op: "link.set", name: "u0", up: true },
    { op: "addr.add", dev: "u0", cidr: "192.168.5.1/24" },
    { op: "addr.add", dev: "u0", cidr: "fd00:5::1/64", noDad: true },
  ]);
  const drivers: [string, Kernel][] = [
    ["iproute2, Node spawns", createIproute2Kernel()],
    ...(pool
      ? [["iproute2, helper pool of 4", createIproute2Kernel({ runner: pool.run })] as [string, Kernel]]
      : []),
    ["rtnetlink", withRtnetlink(createIproute2Kernel(), addon)],
  ];
  const f = (n: number) => n.toFixed(3).padStart(9);
  console.log(`kernel reads and sysctls, ms per call (iterations ${iterations}; ${nsName})`);
  console.log(
    `${"call".padEnd(20)} ${drivers.map(([d]) => `${d} p50/p95`.padStart(40)).join("")}   iproute2/rtnetlink p50`,
  );
  for (const [label, call] of calls) {
    const samples: number[][] = [];
    for (const [, k] of drivers) samples.push(await perCall(k, call));
    const nl = median(samples.at(-1) as number[]);
    console.log(
      `${label.padEnd(20)} ${samples.map((s) => `${f(median(s))} / ${f(p95(s))}`.padStart(40)).join("")}   ${samples
        .slice(0, -1)
        .map((s) => `${(median(s) / nl).toFixed(0)}×`)
        .join(" / ")}`,
    );
  }
  const rounds = 5;
  console.log(
    `burst: ${burstAgents} agents × the ${calls.length} calls at once, ms to the last answer (median of ${rounds})`,
  );
  for (const [d, k] of drivers) {
    const walls: number[] = [];
    for (let i = 0; i < rounds; i++) walls.push(await burst(k));
    console.log(`  ${d.padEnd(30)} ${f(median(walls))}`);
  }
} finally {
  pool?.close();
  cleanup();
}
