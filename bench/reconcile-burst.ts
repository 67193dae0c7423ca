/**
 * Reconcile coalescing under a burst (issue 9, item 3). One ClusterAgent (host-gw, so every lease
 * is a real kernel route) in a throwaway namespace; its datastore receives a burst of lease
 * changes as fast as it takes them: N new nodes, then N more changes (half the nodes leave, the
 * other half move to a new address). After each burst the bench waits until the kernel holds
 * exactly the routes the datastore calls for, and prints passes, changes and time to converge.
 * The same bursts with coalescing switched off (one pass per trigger, the behaviour before) run
 * in the same process as the reference.
 *
 *   node dist/bench/reconcile-burst.js [--changes 1000] [--no-reference]
 */
import { execFileSync } from "node:child_process";
import { pino } from "pino";
import { ClusterAgent } from "../src/agent/cluster-agent.js";
import { createHostGwBackend } from "../src/backends/host-gw/host-gw.js";
import { subnetKey } from "../src/cluster/lease-validation.js";
import { EmbeddedStore } from "../src/datastore/embedded/embedded-store.js";
import { namedNetns } from "../src/kernel/api.js";
import { strataRouteProto } from "../src/kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const changes = Number(arg("--changes") ?? 1000);
if (!Number.isInteger(changes) || changes < 2 || changes > 30_000) {
  console.error("--changes must be a whole number from 2 to 30000");
  process.exit(2);
}
const withReference = !process.argv.includes("--no-reference");
const kernel = createIproute2Kernel();

const subnetOf = (i: number) => `10.${128 + Math.floor(i / 256)}.${i % 256}.0/24`;
const addressOf = (i: number, moved: boolean) =>
  `10.99.${(moved ? 128 : 0) + Math.floor(i / 250)}.${(i % 250) + 1}`;
const leaseOf = (i: number, moved = false) =>
  JSON.stringify({
    node: `p${i}`,
    subnet: subnetOf(i),
    publicIp: addressOf(i, moved),
    publicPrefix: 16,
    backend: "host-gw",
    backendData: {},
  });

/** The kernel's Strata routes as "dst via", sorted. */
function kernelRoutes(ns: string): string[] {
  return execFileSync("ip", ["-n", ns, "route", "show", "proto", strataRouteProto], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [dst, , via] = l.split(/\s+/);
      return `${dst} ${via}`;
    })
    .sort();
}

interface Row {
  burst: string;
  coalesce: boolean;
  changes: number;
  triggers: number;
  passes: number;
  ms: number;
  drainedMs: number;
  correct: boolean;
}

async function run(coalesce: boolean): Promise<Row[]> {
  const ns = `strata-b-burst-${process.pid}`;
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  } catch {
    // not there
  }
  execFileSync("ip", ["netns", "add", ns]);
  const store = new EmbeddedStore();
  const ac = new AbortController();
  try {
    execFileSync("ip", ["-n", ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth1"]);
    execFileSync("ip", ["-n", ns, "addr", "add", "10.99.255.254/16", "dev", "eth0"]);
    execFileSync("ip", ["-n", ns, "link", "set", "eth0", "up"]);
    execFileSync("ip", ["-n", ns, "link", "set", "eth1", "up"]);
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: "self",
      clusterCidr: "10.128.0.0/9",
      subnetLen: 24,
      underlayDev: "eth0",
      backend: createHostGwBackend(),
      leaseTtlSeconds: 86_400,
      resyncMs: 3_600_000, // no repair ticks: only the burst triggers passes
      logger: pino({ level: "silent" }),
      signal: ac.signal,
      masquerade: false,
      coalesce,
    });
    const own = await agent.start();
    const running = agent.run();
    // Settle: the first pass (no peers) is done.
    while (agent.status.reconciles < 1) await new Promise((r) => setTimeout(r, 10));
    const rows: Row[] = [];
    const expected = new Map<number, boolean>(); // node index → moved
    const burst = async (name: string, write: () => Promise<number>) => {
      const passes0 = agent.status.reconciles;
      const triggers0 = (await agent.statusNow()).reconcileTriggers;
      const t0 = performance.now();
      const n = await write();
      const want = [...expected]
        .filter(([i]) => subnetOf(i) !== own.subnet)
        .map(([i, moved]) => `${subnetOf(i)} ${addressOf(i, moved)}`)
        .sort();
      const deadline = Date.now() + 600_000;
      let got: string[] = [];
      for (;;) {
        got = kernelRoutes(ns);
        if (got.length === want.length && got.every((r, k) => r === want[k])) break;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const ms = performance.now() - t0;
      // Passes still queued when the routes became right cost time too: wait for them.
      await agent.settled();
      const drainedMs = performance.now() - t0;
      const s = await agent.statusNow();
      rows.push({
        burst: name,
        coalesce,
        changes: n,
        triggers: s.reconcileTriggers - triggers0,
        passes: s.reconciles - passes0,
        ms,
        drainedMs,
        correct: got.length === want.length && got.every((r, k) => r === want[k]),
      });
    };
    await burst(`${changes} nodes join`, async () => {
      for (let i = 0; i < changes; i++) {
        await store.put(subnetKey(subnetOf(i)), leaseOf(i));
        expected.set(i, false);
      }
      return changes;
    });
    await burst(`${changes / 2} leave, ${changes / 2} move`, async () => {
      for (let i = 0; i < changes; i++) {
        if (i % 2 === 0) {
          await store.delete(subnetKey(subnetOf(i)));
          expected.delete(i);
        } else {
          await store.put(subnetKey(subnetOf(i)), leaseOf(i, true));
          expected.set(i, true);
        }
      }
      return changes;
    });
    ac.abort();
    await running;
    return rows;
  } finally {
    ac.abort();
    await store.close();
    execFileSync("ip", ["netns", "del", ns]);
  }
}

const rows = [...(await run(true)), ...(withReference ? await run(false) : [])];
console.log(
  `${"burst".padEnd(26)} ${"coalescing".padEnd(10)} ${"changes".padStart(7)} ${"triggers".padStart(8)} ${"passes".padStart(6)} ${"converged ms".padStart(12)} ${"drained ms".padStart(10)}  routes`,
);
for (const r of rows)
  console.log(
    `${r.burst.padEnd(26)} ${(r.coalesce ? "on" : "off (ref)").padEnd(10)} ${String(r.changes).padStart(7)} ${String(r.triggers).padStart(8)} ${String(r.passes).padStart(6)} ${r.ms.toFixed(0).padStart(12)} ${r.drainedMs.toFixed(0).padStart(10)}  ${r.correct ? "correct" : "WRONG"}`,
  );
if (rows.some((r) => !r.correct)) process.exitCode = 1;
