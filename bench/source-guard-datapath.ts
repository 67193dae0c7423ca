/**
 * What the pods' source guard (anti-spoofing, issue 8) costs on the data path: one lab, the same
 * pod pairs, rounds that take turns between the guard as the plugin set it up and the same lab with
 * the guard's tables removed (saved with `nft list table` and restored with `nft -f` between
 * rounds), so load on a shared machine falls on both alike. Prints medians per path and the ratio
 * with / without. Never gates CI.
 *
 * Usage (as root, under the lab lock): node dist/bench/source-guard-datapath.js
 *   [--model host-gw|vxlan] [--seconds S] [--rounds R]
 */
import { execFileSync } from "node:child_process";
import { labPaths } from "../src/cli/paths.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { rttMicros, throughputGbps } from "../src/lab/measure.js";
import { labDown, labUp } from "../src/lab/runner.js";
import { median } from "./stats.js";

const arg = (name: string, fallback: string) =>
  process.argv.includes(name) ? String(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const model = arg("--model", "host-gw") as "host-gw" | "vxlan";
const seconds = Number(arg("--seconds", "3"));
const rounds = Number(arg("--rounds", "5"));
const guardTables = [
  ["bridge", "strata-antispoof"],
  ["inet", "strata-antispoof"],
] as const;

const nft = (ns: string, argv: string[], input?: string) =>
  execFileSync("ip", ["netns", "exec", ns, "nft", ...argv], {
    encoding: "utf8",
    input,
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "ignore"],
  });

/** The guard's tables of a node as nft text (to restore), and a switch that removes/restores them. */
function guardSwitch(ns: string) {
  const saved = guardTables.flatMap(([family, name]) => {
    try {
      return [nft(ns, ["list", "table", family, name])];
    } catch {
      return [];
    }
  });
  if (saved.length === 0) throw new Error(`no source guard table in ${ns}: is antiSpoofing on?`);
  return {
    off: () => {
      for (const [family, name] of guardTables) {
        try {
          nft(ns, ["delete", "table", family, name]);
        } catch {
          // this family was not in use
        }
      }
    },
    on: () => {
      for (const text of saved) nft(ns, ["-f", "-"], text);
    },
  };
}

const kernel = createIproute2Kernel();
const paths = labPaths();
try {
  const state = await labUp(
    kernel,
    {
      model,
      nodes: 2,
      podsPerNode: 2,
      underlay: "l2",
      datastore: "embedded",
      clusterCidr: "10.244.0.0/16",
      underlayMtu: 1500,
    },
    paths,
    async (_label, fn) => fn(),
  );
  const [n1, n2] = state.nodes;
  const a = state.pods.find((p) => p.node === n1?.name);
  const same = state.pods.find((p) => p.node === n1?.name && p !== a);
  const cross = state.pods.find((p) => p.node === n2?.name);
  if (!n1 || !n2 || !a || !same || !cross) throw new Error("the lab has not the pods this bench needs");
  const switches = state.nodes.map((n) => guardSwitch(n.ns));
  const pairs = [
    { path: "pod→pod, same node", toNs: same.ns, toIp: same.ip },
    { path: "pod→pod, cross node", toNs: cross.ns, toIp: cross.ip },
  ];
  const figures = new Map<string, { gbps: number[]; rtt: number[] }>();
  const record = async (guard: "with guard" | "without guard") => {
    for (const p of pairs) {
      const key = `${p.path}|${guard}`;
      const f = figures.get(key) ?? { gbps: [], rtt: [] };
      f.gbps.push(await throughputGbps(kernel, a.ns, p.toNs, p.toIp, seconds));
      f.rtt.push(await rttMicros(kernel, a.ns, p.toIp));
      figures.set(key, f);
    }
  };
  for (let r = 0; r < rounds; r++) {
    // Take turns, and swap who goes first every other round.
    const order =
      r % 2 === 0 ? (["with guard", "without guard"] as const) : (["without guard", "with guard"] as const);
    for (const guard of order) {
      for (const s of switches) guard === "with guard" ? s.on() : s.off();
      await record(guard);
    }
    for (const s of switches) s.on();
  }
  console.log(
    `source guard on the data path (${model}, l2, iperf3 ${seconds} s, ${rounds} interleaved rounds; medians)`,
  );
  console.log(
    `${"path".padEnd(22)} ${"guard".padEnd(14)} ${"Gbit/s".padStart(7)} ${"min".padStart(6)} ${"max".padStart(6)} ${"RTT µs".padStart(7)}`,
  );
  for (const p of pairs) {
    const on = figures.get(`${p.path}|with guard`);
    const off = figures.get(`${p.path}|without guard`);
    for (const [label, f] of [
      ["with guard", on],
      ["without guard", off],
    ] as const) {
      if (!f) continue;
      console.log(
        `${p.path.padEnd(22)} ${label.padEnd(14)} ${median(f.gbps).toFixed(2).padStart(7)} ${Math.min(
          ...f.gbps,
        )
          .toFixed(2)
          .padStart(6)} ${Math.max(...f.gbps)
          .toFixed(2)
          .padStart(6)} ${median(f.rtt).toFixed(0).padStart(7)}`,
      );
    }
    if (on && off)
      console.log(
        `${p.path.padEnd(22)} ratio with/without: throughput ${(median(on.gbps) / median(off.gbps)).toFixed(3)}×, RTT ${(median(on.rtt) / median(off.rtt)).toFixed(3)}×`,
      );
  }
} finally {
  await labDown(kernel);
}
