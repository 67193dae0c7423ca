/**
 * A node agent's kernel pass, by driver: what one VXLAN node writes when N other nodes join (a
 * route, a permanent neighbour and an FDB entry per node) and leave again, and the routes-only read
 * of the repair tick, through the iproute2 driver (the reference: `ip -batch` / `bridge -batch`
 * processes) and through the rtnetlink driver (in-process), interleaved, in one namespace.
 * N varies (1: a single node's change; 1,000: a big cluster's first pass).
 * Time is wall-clock; CPU is this process's plus its waited-for children's (the `ip` processes),
 * from /proc/self/stat. Usage: node dist/bench/kernel-pass.js [--sizes 1,10,100,1000] [--rounds 5]
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type Kernel, type KernelOp, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { loadRtnetlinkAddon, withRtnetlink } from "../src/kernel/rtnetlink/driver.js";
import { median } from "./stats.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const sizes = arg("--sizes", "1,10,100,1000").split(",").map(Number);
const rounds = Number(arg("--rounds", "5"));
const nsName = "strata-b-kpass";
const ns = namedNetns(nsName);

/** utime+stime+cutime+cstime of this process, ms (clock ticks of 10 ms). */
function cpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0) * 10;
}

const peer = (i: number) => ({
  subnet: `10.${100 + Math.floor(i / 250)}.${i % 250}.0`,
  vtep: `192.168.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`,
  mac: `02:5a:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`,
});

/** As the reconcile planner orders them (src/kernel/desired/plan.ts): neighbours, FDB, routes. */
function joinOps(n: number): KernelOp[] {
  const peers = Array.from({ length: n }, (_, i) => peer(i));
  return [
    ...peers.map(
      (p): KernelOp => ({ op: "neigh.replace", dev: "vx0", ip: p.subnet, mac: p.mac, permanent: true }),
    ),
    ...peers.map(
      (p): KernelOp => ({
        op: "fdb.append",
        entry: { dev: "vx0", mac: p.mac, dst: p.vtep, self: true, permanent: true },
      }),
    ),
    ...peers.map(
      (p): KernelOp => ({
        op: "route.replace",
        route: { dst: `${p.subnet}/24`, via: p.subnet, dev: "vx0", onlink: true, proto: "147" },
      }),
    ),
  ];
}

function leaveOps(n: number): KernelOp[] {
  const peers = Array.from({ length: n }, (_, i) => peer(i));
  return [
    ...peers.map((p): KernelOp => ({ op: "neigh.delete", dev: "vx0", ip: p.subnet, ifPresent: true })),
    ...peers.map(
      (p): KernelOp => ({
        op: "fdb.delete",
        entry: { dev: "vx0", mac: p.mac, dst: p.vtep, self: true },
        ifPresent: true,
      }),
    ),
    ...peers.map(
      (p): KernelOp => ({
        op: "route.delete",
        route: { dst: `${p.subnet}/24`, proto: "147" },
        ifPresent: true,
      }),
    ),
  ];
}

async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; cpu: number }> {
  const c = cpuMs();
  const t = performance.now();
  await fn();
  return { ms: performance.now() - t, cpu: cpuMs() - c };
}

function cleanup(): void {
  try {
    execFileSync("ip", ["netns", "del", nsName], { stdio: "ignore" });
  } catch {
    // not there
  }
}

const iproute2 = createIproute2Kernel();
const drivers: [string, Kernel][] = [["iproute2", iproute2]];
if (loadRtnetlinkAddon()) drivers.push(["rtnetlink", withRtnetlink(iproute2)]);
else console.log("rtnetlink addon not built (npm run build): iproute2 rows only");

cleanup();
try {
  execFileSync("ip", ["netns", "add", nsName]);
  await iproute2.apply(ns, [
    { op: "link.add", spec: { kind: "veth", name: "u0", peer: { name: "u1" } } },
    { op: "link.set", name: "u0", up: true },
    { op: "addr.add", dev: "u0", cidr: "192.168.99.1/16" },
    {
      op: "link.add",
      spec: {
        kind: "vxlan",
        name: "vx0",
        vni: 1,
        port: 8472,
        learning: false,
        device: "u0",
        local: "192.168.99.1",
      },
    },
    { op: "link.set", name: "vx0", up: true },
  ]);
  console.log(`kernel pass by driver: ${rounds} interleaved rounds, medians; reference iproute2 (same run)`);
  console.log("| nodes | pass | driver | ms | CPU ms | × iproute2 (ms) | × iproute2 (CPU) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const n of sizes) {
    const rows = new Map<string, { ms: number[]; cpu: number[] }>();
    const add = (key: string, r: { ms: number; cpu: number }) => {
      const e = rows.get(key) ?? { ms: [], cpu: [] };
      e.ms.push(r.ms);
      e.cpu.push(r.cpu);
      rows.set(key, e);
    };
    for (let round = 0; round < rounds; round++) {
      for (const [name, k] of drivers) {
        add(`join|${name}`, await timed(() => k.apply(ns, joinOps(n))));
        add(`read|${name}`, await timed(() => k.routes(ns, { family: 4 })));
        add(`leave|${name}`, await timed(() => k.apply(ns, leaveOps(n))));
      }
    }
    for (const pass of ["join", "read", "leave"]) {
      const ref = rows.get(`${pass}|iproute2`);
      for (const [name] of drivers) {
        const r = rows.get(`${pass}|${name}`);
        if (!r || !ref) continue;
        const what = pass === "read" ? "routes read" : `${pass}: ${n * 3} ops`;
        console.log(
          `| ${n} | ${what} | ${name} | ${median(r.ms).toFixed(2)} | ${median(r.cpu).toFixed(0)} | ${(median(r.ms) / median(ref.ms)).toFixed(3)} | ${median(ref.cpu) > 0 ? (median(r.cpu) / median(ref.cpu)).toFixed(3) : "-"} |`,
        );
      }
    }
  }
} finally {
  cleanup();
}
