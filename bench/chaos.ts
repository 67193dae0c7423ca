/**
 * Chaos bench (issue 9, item 6): N cycles of random faults against a running lab while every pod
 * pings every pod on the other nodes, then what is left behind:
 * - leaked addresses: IPAM reservations without a pod interface holding that address (and pod
 *   addresses without a reservation, which could be handed out twice);
 * - stale routes: Strata routes (proto 147) to a subnet no other node holds now, duplicates, and
 *   missing routes to a live node's subnet;
 * - pings lost per kind of fault, beside a fault-free window of the same length (the noise floor).
 *
 * Faults: kill -9 of an agent, kill -9 of an agent in the middle of a CNI ADD (then DEL, as a
 * runtime does after a failed ADD), a clean agent restart (SIGTERM, start), kill -9 of the
 * datastore and its restart. Agents and the datastore are stopped and started through the same
 * code as `strata lab agent|datastore stop|start`.
 *
 * Never gates CI: prints figures and exits 0 (1 only when the lab cannot be built). Brings up the
 * lab, so run it under the lab lock:
 *   flock /tmp/strata-lab.lock node dist/bench/chaos.js [--cycles 200] [--nodes 3] [--pods 1]
 *     [--model vxlan] [--datastore embedded] [--seed N] [--down-ms 200-1500] [--keep]
 * --down-ms: how long a killed agent or datastore stays down (try 30000-30000 to outlast the
 * lab's 10 s subnet lease).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type LabFlags, parseLabFlags } from "../src/cli/lab-flags.js";
import { intInRange, UsageError } from "../src/cli/options.js";
import { labPaths } from "../src/cli/paths.js";
import { addNetworkList, type ConfList, delNetworkList } from "../src/cni/runtime-client.js";
import { contains } from "../src/common/cidr.js";
import { describeError } from "../src/common/errors.js";
import { eventually } from "../src/common/eventually.js";
import { namedNetns } from "../src/kernel/api.js";
import { strataRouteProto } from "../src/kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { agentHealth } from "../src/lab/agent-health.js";
import { runChecks } from "../src/lab/check.js";
import { startRecordedProcess, stopRecordedProcess } from "../src/lab/control.js";
import { startPingMesh } from "../src/lab/ping-mesh.js";
import { labDown, labUp } from "../src/lab/runner.js";
import { type LabState, labDir, readLabStateSync } from "../src/lab/state.js";
import { labPrefix } from "../src/lab/topology.js";
import { isAlive } from "../src/process/process-identity.js";
import { prng } from "../test/support/prng.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? "") : fallback;
};
/** The bench's flags, checked before anything is touched (a bad one: one line, exit 2). */
function readFlags() {
  const cycles = intInRange("--cycles", arg("--cycles", "200"), 1, 100_000);
  const seed = intInRange("--seed", arg("--seed", String(Date.now() % 1_000_000)), 0, 2 ** 31);
  const flags: LabFlags = {
    model: arg("--model", "vxlan"),
    nodes: arg("--nodes", "3"),
    pods: arg("--pods", "1"),
    underlay: arg("--underlay", "l2"),
    datastore: arg("--datastore", "embedded"),
    routeReflectors: "0",
  };
  // How long a killed agent or datastore stays down: MIN-MAX milliseconds, drawn per fault.
  const v = arg("--down-ms", "200-1500");
  const m = /^(\d+)-(\d+)$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2]))
    throw new UsageError("--down-ms", `"${v}" is not MIN-MAX milliseconds`);
  return {
    cycles,
    seed,
    spec: parseLabFlags(flags),
    keep: process.argv.includes("--keep"),
    downMin: Number(m[1]),
    downMax: Number(m[2]),
  };
}
let config: ReturnType<typeof readFlags>;
try {
  config = readFlags();
} catch (e) {
  console.error(`chaos: ${describeError(e)}`);
  process.exit(2);
}
const { cycles, seed, spec, keep, downMin, downMax } = config;

const kernel = createIproute2Kernel();
const paths = labPaths();
const quiet = <T>(_l: string, fn: () => Promise<T>) => fn();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const random = prng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));

const faultKinds = [
  "agent kill -9",
  "agent kill -9 during CNI ADD",
  "agent restart",
  "datastore kill -9 + restart",
] as const;
type FaultKind = (typeof faultKinds)[number] | "no fault (baseline)";

interface Tally {
  cycles: number;
  sent: number;
  lost: number;
  worstLost: number;
  ms: number;
  notes: Map<string, number>;
}
const tallies = new Map<FaultKind, Tally>();
const tally = (k: FaultKind): Tally => {
  let t = tallies.get(k);
  if (!t) {
    t = { cycles: 0, sent: 0, lost: 0, worstLost: 0, ms: 0, notes: new Map() };
    tallies.set(k, t);
  }
  return t;
};
const note = (k: FaultKind, what: string) => {
  const t = tally(k);
  t.notes.set(what, (t.notes.get(what) ?? 0) + 1);
};

const current = (): LabState => {
  const s = readLabStateSync();
  if (!s) throw new Error("the lab's state file is gone");
  return s;
};

async function healthy(node: string): Promise<void> {
  const ns = current().nodes.find((n) => n.name === node)?.ns ?? "";
  await eventually(
    async () => (await agentHealth(kernel, ns)).httpStatus === 200,
    `${node}'s agent healthy`,
    {
      timeoutMs: 30_000,
    },
  );
}

async function restartAgent(node: string): Promise<void> {
  await startRecordedProcess(current(), "agent", node, kernel);
  await healthy(node);
}

let tempPods = 0;
async function killDuringAdd(kind: FaultKind, node: string): Promise<void> {
  const s = current();
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`no node ${node}`);
  const ns = `${labPrefix}chaos-${++tempPods}`;
  await kernel.netns.create(ns);
  const list = JSON.parse(readFileSync(join(labDir, node, "10-strata.conflist"), "utf8")) as ConfList;
  const att = { containerId: `chaos-${tempPods}`, netns: `/run/netns/${ns}`, ifName: "eth0" };
  const opts = { cniPath: [join(labDir, "bin"), "/usr/lib/cni"], execPrefix: ["ip", "netns", "exec", n.ns] };
  const add = addNetworkList(list, att, opts).then(
    () => "ADD succeeded",
    (e: unknown) => `ADD failed (${describeError(e).slice(0, 60)})`,
  );
  await sleep(between(0, 120));
  await stopRecordedProcess(s, "agent", node, { kill: true });
  note(kind, await add);
  await restartAgent(node);
  // As a runtime does after a failed (or any finished) sandbox: DEL, retried until it succeeds.
  let deleted = false;
  for (let i = 0; i < 5 && !deleted; i++) {
    try {
      await delNetworkList(list, att, opts);
      deleted = true;
    } catch (e) {
      note(kind, `DEL failed once (${describeError(e).slice(0, 60)})`);
      await sleep(300);
    }
  }
  await kernel.netns.delete(ns, { ifPresent: true });
}

async function fault(kind: FaultKind): Promise<void> {
  const node = pick(current().nodes).name;
  switch (kind) {
    case "agent kill -9":
      await stopRecordedProcess(current(), "agent", node, { kill: true });
      await sleep(between(downMin, downMax));
      await restartAgent(node);
      return;
    case "agent kill -9 during CNI ADD":
      await killDuringAdd(kind, node);
      return;
    case "agent restart":
      await stopRecordedProcess(current(), "agent", node);
      await restartAgent(node);
      return;
    case "datastore kill -9 + restart":
      await stopRecordedProcess(current(), "datastore", undefined, { kill: true });
      await sleep(between(downMin, downMax));
      await startRecordedProcess(current(), "datastore", undefined, kernel);
      return;
    case "no fault (baseline)":
      await sleep(2000);
  }
}

/** After a fault step that failed: start whatever recorded process is not running. */
async function recover(): Promise<void> {
  for (const p of current().processes) {
    if (p.running && isAlive({ ...p.running, argv: p.argv })) continue;
    await startRecordedProcess(current(), p.role, p.node, kernel).catch(() => undefined);
  }
}

async function cycle(kind: FaultKind): Promise<void> {
  const stop = startPingMesh(current().pods);
  await sleep(200);
  const started = performance.now();
  try {
    await fault(kind);
  } catch (e) {
    note(kind, `fault step failed: ${describeError(e).slice(0, 80)}`);
    await recover();
  }
  const { sent, received } = await stop();
  const t = tally(kind);
  t.cycles++;
  t.sent += sent;
  t.lost += sent - received;
  t.worstLost = Math.max(t.worstLost, sent - received);
  t.ms += performance.now() - started;
}

/** IPAM reservations (host-local layout: one file per address) on every node, and pods' addresses. */
async function leakedAddresses(state: LabState): Promise<{ leaked: string[]; unreserved: string[] }> {
  const reserved = new Map<string, string>();
  for (const n of state.nodes) {
    const ipam = join(labDir, n.name, "ipam");
    if (!existsSync(ipam)) continue;
    for (const net of readdirSync(ipam))
      for (const f of readdirSync(join(ipam, net)))
        if (/^\d+\.\d+\.\d+\.\d+$/.test(f))
          reserved.set(f, `${n.name}: ${readFileSync(join(ipam, net, f), "utf8").split("\n")[0]}`);
  }
  const onInterfaces = new Set<string>();
  const namespaces = new Set(await kernel.netns.list());
  for (const ns of namespaces) {
    if (!ns.startsWith(labPrefix)) continue;
    if (state.nodes.some((n) => n.ns === ns) || ns === `${labPrefix}underlay`) continue;
    // Pods' IPv4 addresses (IPAM hands out those; IPv6 link-local ones are the kernel's own).
    for (const a of await kernel.addresses(namedNetns(ns), "eth0").catch(() => []))
      if (/^\d+\.\d+\.\d+\.\d+\//.test(a.cidr)) onInterfaces.add(a.cidr.split("/")[0] ?? "");
  }
  return {
    leaked: [...reserved].filter(([ip]) => !onInterfaces.has(ip)).map(([ip, who]) => `${ip} (${who})`),
    unreserved: [...onInterfaces].filter((ip) => !reserved.has(ip)),
  };
}

/** Strata's routes on every node against the subnets the other live nodes hold now. */
async function routeAudit(
  state: LabState,
): Promise<{ stale: string[]; missing: string[]; renumbered: string[] }> {
  const subnets = new Map<string, string>();
  const renumbered: string[] = [];
  for (const n of state.nodes) {
    const h = await agentHealth(kernel, n.ns);
    const now = (h.body as { subnet?: string } | undefined)?.subnet ?? n.subnet;
    if (now !== n.subnet) renumbered.push(`${n.name}: ${n.subnet} → ${now}`);
    subnets.set(n.name, now);
  }
  const stale: string[] = [];
  const missing: string[] = [];
  for (const n of state.nodes) {
    const routes = (await kernel.routes(namedNetns(n.ns), { family: 4 })).filter(
      (r) =>
        r.proto === strataRouteProto &&
        r.dst !== "default" &&
        contains(spec.clusterCidr, r.dst.split("/")[0] ?? ""),
    );
    const expected = state.nodes.filter((x) => x.name !== n.name).map((x) => subnets.get(x.name));
    const seen = new Map<string, number>();
    for (const r of routes) seen.set(r.dst, (seen.get(r.dst) ?? 0) + 1);
    for (const [dst, count] of seen) {
      if (!expected.includes(dst)) stale.push(`${n.name}: ${dst}`);
      else if (count > 1) stale.push(`${n.name}: ${dst} ×${count}`);
    }
    for (const dst of expected) if (dst && !seen.has(dst)) missing.push(`${n.name}: ${dst}`);
  }
  return { stale, missing, renumbered };
}

async function main(): Promise<void> {
  console.log(
    `chaos: ${cycles} cycles on ${spec.model}/${spec.underlay}, ${spec.nodes} nodes × ${spec.podsPerNode} pods, ${spec.datastore} datastore, seed ${seed}`,
  );
  await labUp(kernel, spec, paths, quiet);
  // Ctrl-C: stop after the current cycle, print what was measured, remove the lab.
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
  });
  try {
    await cycle("no fault (baseline)");
    const started = performance.now();
    for (let i = 1; i <= cycles && !interrupted; i++) {
      const kind = pick(faultKinds);
      await cycle(kind);
      if (i % 10 === 0 || i === cycles)
        process.stderr.write(
          `  ${i}/${cycles} cycles, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
        );
    }
    // Every agent healthy again before the audit (the last fault may have just ended).
    for (const n of current().nodes) await healthy(n.name).catch(() => undefined);
    await sleep(1000);
    const final = current();
    const { leaked, unreserved } = await leakedAddresses(final);
    const { stale, missing, renumbered } = await routeAudit(final);
    const checks = await runChecks(kernel, final);
    console.log(
      `\n${"fault".padEnd(30)} ${"cycles".padStart(6)} ${"pings".padStart(7)} ${"lost".padStart(5)} ${"worst".padStart(5)} ${"avg s".padStart(6)}`,
    );
    for (const k of ["no fault (baseline)", ...faultKinds] as FaultKind[]) {
      const t = tallies.get(k);
      if (!t) continue;
      console.log(
        `${k.padEnd(30)} ${String(t.cycles).padStart(6)} ${String(t.sent).padStart(7)} ${String(t.lost).padStart(5)} ${String(t.worstLost).padStart(5)} ${(t.ms / t.cycles / 1000).toFixed(1).padStart(6)}`,
      );
      for (const [what, count] of t.notes) console.log(`    ${count}× ${what}`);
    }
    const list = (xs: string[]) => (xs.length === 0 ? "0" : `${xs.length}: ${xs.join(", ")}`);
    console.log(`\nleaked addresses (IPAM reservation, no pod interface): ${list(leaked)}`);
    console.log(`pod addresses without a reservation: ${list(unreserved)}`);
    console.log(`stale routes: ${list(stale)}`);
    console.log(`missing routes: ${list(missing)}`);
    console.log(`nodes renumbered: ${list(renumbered)}`);
    const failed = checks.filter((c) => !c.ok);
    console.log(
      `lab check afterwards: ${checks.length - failed.length} of ${checks.length} pass${failed.length ? ` (failed: ${failed.map((c) => `${c.kind} ${c.from}→${c.to}`).join("; ")})` : ""}`,
    );
  } finally {
    if (!keep) await labDown(kernel);
  }
}

await main().catch((e: unknown) => {
  console.error(`chaos: ${describeError(e)}`);
  process.exitCode = 1;
});
