/**
 * ADD/DEL latency of a pod with eth0 plus two macvlan attachments: through the meta plugin
 * (`strata-multi` via the agent: annotation and definitions from the datastore, delegates in
 * order, network-status written back), against Debian's reference plugins called in the same
 * sequence by hand (bridge+host-local on eth0, then macvlan+host-local on net1 and on net2), as
 * a runtime without Multus would. Same run, same machine; rounds alternate the order.
 *
 * Flavours of the meta plugin: its cluster network Strata's own plugin (linked, in-process), or
 * the very same reference bridge as the hand-made sequence (the meta plugin's pure overhead).
 * Runs itself inside a throwaway node namespace, like bench/cni-latency.ts.
 * Usage: node dist/bench/multi-latency.js [--iterations N] [--concurrency C]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defaultCniSocketDir } from "../src/agent/cni-socket.js";
import { type ConfList, pluginStdin, runPlugin } from "../src/cni/runtime-client.js";
import { EmbeddedStore } from "../src/datastore/embedded/embedded-store.js";
import { serveDatastore } from "../src/datastore/embedded/server.js";
import { networksAnnotation } from "../src/netattach/annotation.js";
import { parseNad } from "../src/netattach/nad.js";
import { NadStore } from "../src/netattach/nad-store.js";
import { PodAnnotationStore } from "../src/netattach/pod-annotations.js";
import { removeBenchNamespaces, sh } from "./bench-netns.js";
import { installBenchPlugins } from "./bench-plugins.js";
import { median, p95 } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const nodeNs = "strata-b-multi-node";
const podPrefix = "strata-b-multi-pod";
const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const iterations = opt("--iterations", 24);
const concurrency = opt("--concurrency", 8);

function outer(): void {
  removeBenchNamespaces("strata-b-multi-");
  try {
    sh("ip", ["netns", "add", nodeNs]);
    sh("ip", ["-n", nodeNs, "link", "set", "lo", "up"]);
    execFileSync(
      "ip",
      ["netns", "exec", nodeNs, process.execPath, import.meta.filename, "--inner", ...args],
      {
        stdio: "inherit",
      },
    );
  } catch (err) {
    process.exitCode = (err as { status?: number }).status ?? 1;
  } finally {
    removeBenchNamespaces("strata-b-multi-");
  }
}

/** One way to attach a pod: the plugin calls of ADD (and DEL, reversed) a runtime makes. */
interface Flavour {
  readonly label: string;
  /** Each call: a list's plugin on an interface. */
  readonly calls: readonly { readonly list: ConfList; readonly ifName: string }[];
}

async function startAgent(cniPath: readonly string[]): Promise<ChildProcess> {
  const argv = [join(root, "bin/strata.js"), "agent", "--log-level", "warn", "--health-port", "9951"];
  const agent = spawn(process.execPath, [...argv, "--cni-bin-dir", cniPath.join(":")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; i < 200; i++) {
    const ss = execFileSync("ss", ["-xlnH"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    if (ss.includes(defaultCniSocketDir)) return agent;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("agent did not start");
}

async function inner(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "strata-bench-multi-"));
  const cniPath = await installBenchPlugins(root, join(work, "bin"));
  // The macvlans' parent: a veth end in this node, up.
  sh("ip", ["link", "add", "m0", "type", "veth", "peer", "name", "m0p"]);
  sh("ip", ["link", "set", "m0", "up"]);
  sh("ip", ["link", "set", "m0p", "up"]);
  const store = new EmbeddedStore();
  const socket = join(work, "kv", "kv.sock");
  const server = await serveDatastore(store, socket);
  const hostLocal = (subnet: string, dir: string) => ({
    type: "host-local",
    ranges: [[{ subnet }]],
    dataDir: join(work, dir),
  });
  const macvlan = (name: string, subnet: string): ConfList => ({
    cniVersion: "1.0.0",
    name,
    plugins: [{ type: "macvlan", master: "m0", mode: "bridge", ipam: hostLocal(subnet, name) }],
  });
  const refBridge = (name: string, bridge: string, subnet: string): ConfList => ({
    cniVersion: "1.0.0",
    name,
    plugins: [{ type: "bridge", bridge, isGateway: true, ipam: hostLocal(subnet, name) }],
  });
  for (const [name, subnet] of [
    ["mv-a", "10.50.0.0/16"],
    ["mv-b", "10.51.0.0/16"],
  ] as const) {
    await new NadStore(store).apply(
      parseNad({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name, namespace: "bench" },
        spec: { config: JSON.stringify({ cniVersion: "1.0.0", plugins: macvlan(name, subnet).plugins }) },
      }),
    );
  }
  const multi = (label: string, cluster: ConfList, cacheDir: string): Flavour => ({
    label,
    calls: [
      {
        ifName: "eth0",
        list: {
          cniVersion: "1.0.0",
          name: "multi",
          plugins: [
            {
              type: "strata-multi",
              datastore: `embedded:${socket}`,
              clusterNetwork: cluster,
              nodeName: "bench",
              cacheDir: join(work, cacheDir),
            },
          ],
        },
      },
    ],
  });
  const flavours: Flavour[] = [
    {
      label: "reference by hand (3 calls)",
      calls: [
        { ifName: "eth0", list: refBridge("ref-eth0", "cni-ref", "10.40.0.0/16") },
        { ifName: "net1", list: macvlan("ref-net1", "10.52.0.0/16") },
        { ifName: "net2", list: macvlan("ref-net2", "10.53.0.0/16") },
      ],
    },
    multi(
      "strata-multi, eth0 strata",
      {
        cniVersion: "1.0.0",
        name: "strata",
        plugins: [
          {
            type: "strata",
            mode: "bridge",
            bridge: "cni-strata",
            ipam: {
              type: "strata-ipam",
              ranges: [[{ subnet: "10.41.0.0/16" }]],
              dataDir: join(work, "strata"),
            },
          },
        ],
      },
      "cache-strata",
    ),
    multi("strata-multi, eth0 ref bridge", refBridge("mref-eth0", "cni-mref", "10.42.0.0/16"), "cache-ref"),
  ];
  const count = Math.max(iterations, concurrency);
  const pods = Array.from({ length: count }, (_, i) => `${podPrefix}${i}`);
  for (const p of pods) {
    sh("ip", ["netns", "add", p]);
    await new PodAnnotationStore(store).set({ namespace: "bench", name: p }, networksAnnotation, "mv-a,mv-b");
  }
  const agent = await startAgent(cniPath);

  const one = async (f: Flavour, pod: string, cmd: "ADD" | "DEL") => {
    const calls = cmd === "ADD" ? f.calls : [...f.calls].reverse();
    for (const c of calls) {
      const plugin = c.list.plugins[0] as Record<string, unknown>;
      const att = {
        containerId: `bench-${pod}`,
        netns: `/run/netns/${pod}`,
        ifName: c.ifName,
        args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench", K8S_POD_NAME: pod },
      };
      const out = await runPlugin(String(plugin.type), cmd, pluginStdin(c.list, plugin, att), att, {
        cniPath,
      });
      if (out.exitCode !== 0)
        throw new Error(`${f.label} ${cmd} ${c.ifName} failed: ${out.stdout} ${out.stderr}`);
    }
  };
  const measure = async (f: Flavour, chunk: string[], parallel: number) => {
    const add: number[] = [];
    const del: number[] = [];
    for (const [cmd, into] of [
      ["ADD", add],
      ["DEL", del],
    ] as const) {
      const queue = [...chunk];
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          for (let pod = queue.shift(); pod; pod = queue.shift()) {
            const t = performance.now();
            await one(f, pod, cmd);
            into.push(performance.now() - t);
          }
        }),
      );
    }
    return { add, del };
  };
  const rows: { label: string; mode: string; add: number[]; del: number[] }[] = [];
  try {
    for (const f of flavours) await measure(f, pods.slice(0, 2), 1);
    const rounds = Math.max(1, Math.min(6, Math.floor(iterations / 4)));
    const seq = new Map(flavours.map((f) => [f.label, { add: [] as number[], del: [] as number[] }]));
    for (let round = 0; round < rounds; round++) {
      const chunk = pods.slice(0, Math.max(1, Math.round(iterations / rounds)));
      for (const f of round % 2 === 0 ? flavours : [...flavours].reverse()) {
        const m = await measure(f, chunk, 1);
        seq.get(f.label)?.add.push(...m.add);
        seq.get(f.label)?.del.push(...m.del);
      }
    }
    for (const f of flavours)
      rows.push({ label: f.label, mode: "sequential", ...(seq.get(f.label) ?? { add: [], del: [] }) });
    for (const f of flavours)
      rows.push({
        label: f.label,
        mode: `${concurrency} concurrent`,
        ...(await measure(f, pods.slice(0, count), concurrency)),
      });
  } finally {
    agent.kill("SIGTERM");
    await server.close();
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
  const fmt = (n: number) => n.toFixed(1).padStart(7);
  console.log(
    `pod ADD/DEL with eth0 + 2 macvlan, ms (iterations ${iterations}, concurrency ${concurrency}; ratio = median / reference median)`,
  );
  console.log(
    `${"flavour".padEnd(30)} ${"mode".padEnd(13)} ${"ADD p50".padStart(7)} ${"ADD p95".padStart(7)} ${"ratio".padStart(6)}  ${"DEL p50".padStart(7)} ${"DEL p95".padStart(7)} ${"ratio".padStart(6)}`,
  );
  for (const r of rows) {
    const base = rows.find((x) => x.label === flavours[0]?.label && x.mode === r.mode);
    const ra = base ? median(r.add) / median(base.add) : Number.NaN;
    const rd = base ? median(r.del) / median(base.del) : Number.NaN;
    console.log(
      `${r.label.padEnd(30)} ${r.mode.padEnd(13)} ${fmt(median(r.add))} ${fmt(p95(r.add))} ${ra.toFixed(2).padStart(5)}×  ${fmt(median(r.del))} ${fmt(p95(r.del))} ${rd.toFixed(2).padStart(5)}×`,
    );
  }
}

if (args.includes("--inner")) await inner();
else outer();
