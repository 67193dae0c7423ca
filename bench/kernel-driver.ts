/**
 * Kernel driver costs: how to drive iproute2 from Node. Compares, for the op list of one pod ADD,
 * one `ip` process per op against one `ip -batch` for the list, each spawned by Node directly and
 * through the spawn-helper pool; with a small and with a large (agent-like) Node heap.
 * Usage: node dist/bench/kernel-driver.js [--iterations N]
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type KernelOp, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel, spawnProgram } from "../src/kernel/iproute2/index.js";
import { SpawnPool } from "../src/process/spawn-pool.js";
import { median, p95 } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const iterations = Number(process.argv[process.argv.indexOf("--iterations") + 1]) || 60;
const hostName = "strata-b-kern-host";
const podName = "strata-b-kern-pod";

function ops(i: number): KernelOp[] {
  const pod = namedNetns(podName);
  return [
    {
      op: "link.add",
      spec: { kind: "veth", name: `bv${i}`, mtu: 1450, peer: { name: `e${i}`, netns: pod, mtu: 1450 } },
    },
    { op: "link.set", name: `bv${i}`, master: "br0", up: true },
    {
      op: "route.replace",
      route: { dst: `10.99.${Math.floor(i / 250)}.${(i % 250) + 1}/32`, dev: `bv${i}`, scope: "link" },
    },
    { op: "link.set", name: `bv${i}`, mtu: 1450 },
  ];
}

async function measure(label: string, runner: Parameters<typeof createIproute2Kernel>[0]): Promise<string> {
  const k = createIproute2Kernel(runner);
  const host = namedNetns(hostName);
  const perOp: number[] = [];
  const batch: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const list = ops(i);
    let t = performance.now();
    for (const op of list) await k.apply(host, [op]);
    perOp.push(performance.now() - t);
    await k.apply(host, [{ op: "link.delete", name: `bv${i}` }]);
    t = performance.now();
    await k.apply(host, list);
    batch.push(performance.now() - t);
    await k.apply(host, [{ op: "link.delete", name: `bv${i}` }]);
  }
  const f = (n: number) => n.toFixed(1).padStart(6);
  return `${label.padEnd(44)} ${f(median(perOp))} ${f(p95(perOp))}   ${f(median(batch))} ${f(p95(batch))}   ${(median(perOp) / median(batch)).toFixed(2)}×`;
}

function cleanup(): void {
  for (const n of [hostName, podName]) {
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // not there
    }
  }
}

cleanup();
try {
  execFileSync("ip", ["netns", "add", hostName]);
  execFileSync("ip", ["netns", "add", podName]);
  execFileSync("ip", ["-n", hostName, "link", "add", "name", "br0", "type", "bridge"]);
  const helper = join(root, "dist/shim/strata-spawn-helper");
  console.log(`kernel driver, ms for one pod's ${ops(0).length} host-side ops (iterations ${iterations})`);
  console.log(
    `${"how".padEnd(44)} ${"per-op p50".padStart(6)} ${"p95".padStart(6)}   ${"batch p50".padStart(6)} ${"p95".padStart(6)}   per-op/batch`,
  );
  console.log(await measure("Node spawns ip (small heap)", {}));
  const pool = existsSync(helper) ? new SpawnPool(helper, 2, spawnProgram) : undefined;
  if (pool) console.log(await measure("spawn-helper pool (small heap)", { runner: pool.run }));
  // An agent carries a warm heap; fork cost grows with it.
  const ballast = Buffer.alloc(200e6, 1);
  console.log(await measure("Node spawns ip (200 MB heap, like a busy agent)", {}));
  if (pool) console.log(await measure("spawn-helper pool (200 MB heap)", { runner: pool.run }));
  ballast[0] = 0;
  pool?.close();
} finally {
  cleanup();
}
