/**
 * ADD latency of a pod's macvlan attachment: Strata's `strata-macvlan` (through the agent, and
 * standalone) against Debian's reference `macvlan` + `host-local`, in the same run on the same
 * master. Shapes: one pod at a time, and 8 ADDs at once. Runs itself inside a throwaway node
 * namespace (its eth0 is the master) so plugins are exec'd as that node's runtime would.
 * Usage: node dist/bench/secondary-macvlan.js [--iterations N]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defaultCniSocketDir } from "../src/agent/cni-socket.js";
import { type ConfList, pluginStdin, runPlugin } from "../src/cni/runtime-client.js";
import { removeBenchNamespaces, sh } from "./bench-netns.js";
import { installBenchPlugins } from "./bench-plugins.js";
import { median, p95 } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const nodeNs = "strata-b-mv-node";
const podPrefix = "strata-b-mv-pod";
const args = process.argv.slice(2);
const iterations = args.includes("--iterations") ? Number(args[args.indexOf("--iterations") + 1]) : 24;
const concurrency = 8;

function outer(): void {
  removeBenchNamespaces("strata-b-mv-");
  try {
    sh("ip", ["netns", "add", nodeNs]);
    sh("ip", ["-n", nodeNs, "link", "set", "lo", "up"]);
    sh("ip", ["-n", nodeNs, "link", "add", "eth0", "type", "veth", "peer", "name", "wire"]);
    sh("ip", ["-n", nodeNs, "link", "set", "eth0", "up"]);
    sh("ip", ["-n", nodeNs, "link", "set", "wire", "up"]);
    execFileSync(
      "ip",
      ["netns", "exec", nodeNs, process.execPath, import.meta.filename, "--inner", ...args],
      {
        stdio: "inherit",
      },
    );
  } finally {
    removeBenchNamespaces("strata-b-mv-");
  }
}

interface Flavour {
  readonly label: string;
  readonly list: ConfList;
  readonly env?: Record<string, string>;
}

async function startAgent(): Promise<ChildProcess> {
  const argv = [join(root, "bin/strata.js"), "agent", "--log-level", "warn", "--health-port", "9957"];
  const agent = spawn(process.execPath, argv, { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 100; i++) {
    const ss = execFileSync("ss", ["-xlnH"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    if (ss.includes(defaultCniSocketDir)) return agent;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("agent did not start");
}

async function measure(f: Flavour, cniPath: string[], pods: readonly string[], parallel: number) {
  const plugin = f.list.plugins[0] as Record<string, unknown>;
  const type = String(plugin.type);
  const add: number[] = [];
  const one = async (pod: string, cmd: "ADD" | "DEL") => {
    const att = { containerId: `bench-${pod}`, netns: `/run/netns/${pod}`, ifName: "net1" };
    const started = performance.now();
    const out = await runPlugin(type, cmd, pluginStdin(f.list, plugin, att), att, { cniPath, env: f.env });
    if (cmd === "ADD") add.push(performance.now() - started);
    if (out.exitCode !== 0) throw new Error(`${f.label} ${cmd} failed: ${out.stdout} ${out.stderr}`);
  };
  const all = async (cmd: "ADD" | "DEL") => {
    const queue = [...pods];
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let p = queue.shift(); p; p = queue.shift()) await one(p, cmd);
      }),
    );
  };
  await all("ADD");
  await all("DEL");
  return add;
}

async function inner(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "strata-bench-mv-"));
  const cniPath = await installBenchPlugins(root, join(work, "bin"));
  const list = (name: string, type: string, ipam: string, subnet: string): ConfList => ({
    cniVersion: "1.0.0",
    name,
    plugins: [
      {
        type,
        master: "eth0",
        mode: "bridge",
        ipam: { type: ipam, ranges: [[{ subnet }]], dataDir: join(work, name) },
      },
    ],
  });
  const flavours: Flavour[] = [
    { label: "reference macvlan+host-local", list: list("ref", "macvlan", "host-local", "10.50.0.0/16") },
    { label: "strata-macvlan via agent", list: list("ag", "strata-macvlan", "strata-ipam", "10.51.0.0/16") },
    {
      label: "strata-macvlan standalone",
      list: list("sa", "strata-macvlan", "strata-ipam", "10.52.0.0/16"),
      env: { STRATA_NO_AGENT: "1" },
    },
  ];
  const pods = Array.from({ length: Math.max(iterations, concurrency * 3) }, (_, i) => `${podPrefix}${i}`);
  for (const p of pods) sh("ip", ["netns", "add", p]);
  const agent = await startAgent();
  try {
    for (const f of flavours) await measure(f, cniPath, pods.slice(0, 2), 1); // warm-up
    const shapes = [
      { shape: "1 at a time", parallel: 1, pods: pods.slice(0, iterations) },
      { shape: `${concurrency} concurrent`, parallel: concurrency, pods: pods.slice(0, concurrency * 3) },
    ];
    console.log("| shape | flavour | ADD median ms | ADD p95 ms | ratio to reference (median) |");
    console.log("|---|---|---|---|---|");
    for (const s of shapes) {
      // Rounds alternate the order, so a load change on a shared machine falls on every flavour.
      const samples = new Map<string, number[]>(flavours.map((f) => [f.label, []]));
      for (let round = 0; round < 3; round++) {
        for (const f of round % 2 === 0 ? flavours : [...flavours].reverse()) {
          const chunk = s.pods.slice(0, Math.max(concurrency, Math.ceil(s.pods.length / 3)));
          samples.get(f.label)?.push(...(await measure(f, cniPath, chunk, s.parallel)));
        }
      }
      const ref = median(samples.get(flavours[0]?.label ?? "") ?? []);
      for (const f of flavours) {
        const add = samples.get(f.label) ?? [];
        console.log(
          `| ${s.shape} | ${f.label} | ${median(add).toFixed(1)} | ${p95(add).toFixed(1)} | ${(median(add) / ref).toFixed(2)}× (n=${add.length}) |`,
        );
      }
    }
  } finally {
    agent.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

if (args.includes("--inner")) await inner();
else outer();
