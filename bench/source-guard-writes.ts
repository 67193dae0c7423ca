/**
 * The source guard's writes per pod ADD: `nft -f -` spawned in the node's namespace (what an agent
 * did for a node's first pods, and the standalone plugin does for every pod) against one nf_tables
 * netlink batch from inside the process (what the agent does now). Each node namespace gets the
 * shared table with its first pod, then only the pod's elements: N nodes × P pods ADD-equivalents
 * per way, the two ways interleaved node by node so load on the machine falls on both alike.
 * Wall time per ADD (median, p95) and CPU per ADD (this process and its children, from
 * /proc/self/stat: 10 ms ticks, so read as a total over all ADDs).
 * Usage: node dist/bench/source-guard-writes.js [--nodes 50] [--pods 2]
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { loadNfApply, NfNetlink } from "../src/kernel/nftables/apply.js";
import { SourceGuard } from "../src/plugins/strata/source-guard.js";
import { netlinkGuardWriter } from "../src/plugins/strata/source-guard-writer.js";
import { median, p95 } from "./stats.js";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const nodes = Number(arg("--nodes", "50"));
const pods = Number(arg("--pods", "2"));
const prefix = "strata-b-sgw-";

function cpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0) * 10;
}

function cleanup(): void {
  const names = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
  for (const n of names) execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
}

const addon = loadNfApply();
if (!addon) {
  console.error(
    "source-guard-writes: the rtnetlink addon has no nfApply; run npm run build (needs a C compiler)",
  );
  process.exit(1);
}
const kernel = createIproute2Kernel();
type Way = "nft" | "netlink";
/** Wall ms per ADD: all of them, and the first pod of a node (table + elements) apart. */
const wall: Record<Way, number[]> = { nft: [], netlink: [] };
const first: Record<Way, number[]> = { nft: [], netlink: [] };
const cpu: Record<Way, number> = { nft: 0, netlink: 0 };

async function node(way: Way, i: number): Promise<void> {
  const name = `${prefix}${way}-${i}`;
  execFileSync("ip", ["netns", "add", name]);
  const ns = namedNetns(name);
  const guard =
    way === "nft"
      ? new SourceGuard(kernel, ns)
      : new SourceGuard(kernel, ns, netlinkGuardWriter(new NfNetlink(addon as never, ns)));
  for (let p = 0; p < pods; p++) {
    const c = cpuMs();
    const t = performance.now();
    await guard.allow("bridge", {
      port: `veth${p}`,
      v4: [`10.80.${i}.${p + 2}`],
      v6: [`fd80:${i}::${p + 2}`],
    });
    wall[way].push(performance.now() - t);
    if (p === 0) first[way].push(performance.now() - t);
    cpu[way] += cpuMs() - c;
  }
}

cleanup();
try {
  for (let i = 0; i < nodes; i++) {
    // Alternate which way goes first, so neither always meets a warmer cache.
    for (const way of (i % 2 ? ["netlink", "nft"] : ["nft", "netlink"]) as Way[]) await node(way, i);
  }
  const n = nodes * pods;
  const f = (x: number) => x.toFixed(2).padStart(8);
  console.log(
    `source guard writes: ${nodes} node namespaces × ${pods} pods, bridge table + elements (ms per ADD)`,
  );
  console.log(
    `${"way".padEnd(34)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"1st p50".padStart(8)} ${"cpu/ADD".padStart(8)}`,
  );
  for (const way of ["nft", "netlink"] as Way[])
    console.log(
      `${(way === "nft" ? "nft -f - per write (reference)" : "nf_tables netlink batch").padEnd(34)} ${f(median(wall[way]))} ${f(p95(wall[way]))} ${f(median(first[way]))} ${f(cpu[way] / n)}`,
    );
  console.log(
    `ratio nft/netlink: wall p50 ${(median(wall.nft) / median(wall.netlink)).toFixed(1)}×, cpu ${(cpu.nft / Math.max(cpu.netlink, 1)).toFixed(1)}×`,
  );
} finally {
  cleanup();
}
