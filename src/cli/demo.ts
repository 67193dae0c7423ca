import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCniSocketDir } from "../agent/cni-socket.js";
import { installCniPlugins } from "../cni/install.js";
import { addNetworkList, type ConfList, delNetworkList } from "../cni/runtime-client.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { pluginTypes } from "../plugins/catalog.js";
import { CommandError } from "./options.js";
import { packageRoot, pluginEntryDir, shimPath } from "./paths.js";
import { step } from "./progress.js";

/** Every namespace the demo makes starts with this, so `--down` can find leftovers of a crash. */
const prefix = "strata-demo-";
const nodeNs = `${prefix}node`;
const uplinkNs = `${prefix}uplink`;

interface DemoPod {
  readonly ns: string;
  readonly mode: "bridge" | "routed";
  readonly containerId: string;
  ip?: string;
  result?: unknown;
  addMs?: number;
}

export interface DemoOptions {
  readonly pods: number;
  readonly keep: boolean;
  readonly downOnly: boolean;
}

function confList(mode: "bridge" | "routed", dataDir: string): ConfList {
  const subnet = mode === "bridge" ? "10.88.0.0/24" : "10.89.0.0/24";
  return {
    cniVersion: "1.1.0",
    name: `demo-${mode}`,
    plugins: [
      {
        type: "strata",
        mode,
        bridge: "cni0",
        mtu: 1500,
        ipam: { type: "strata-ipam", ranges: [[{ subnet }]], dataDir },
      },
    ],
  };
}

export async function removeDemo(): Promise<void> {
  const kernel = createIproute2Kernel();
  for (const name of await kernel.netns.list()) {
    if (name.startsWith(prefix)) await kernel.netns.delete(name, { ifPresent: true });
  }
}

async function startAgent(): Promise<ChildProcess> {
  const agent = spawn(
    "ip",
    [
      "netns",
      "exec",
      nodeNs,
      process.execPath,
      join(packageRoot, "bin/strata.js"),
      "agent",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  // The agent's socket appears among the node namespace's UNIX sockets once it serves.
  const kernel = createIproute2Kernel();
  for (let i = 0; i < 100; i++) {
    const r = await kernel.exec(namedNetns(nodeNs), ["ss", "-xlnH"]);
    if (r.stdout.includes(defaultCniSocketDir)) return agent;
    await new Promise((res) => setTimeout(res, 50));
  }
  agent.kill();
  throw new CommandError("the demo's agent did not start listening within 5 s (is `npm run build` done?)");
}

export async function runDemo(opts: DemoOptions): Promise<boolean> {
  await step("removing leftovers of earlier demos", removeDemo);
  if (opts.downOnly) return true;
  const kernel = createIproute2Kernel();
  const work = await mkdtemp(join(tmpdir(), "strata-demo-"));
  const binDir = join(work, "bin");
  let agent: ChildProcess | undefined;
  const pods: DemoPod[] = [];
  let ok = true;
  try {
    await step(`installing CNI plugins into ${binDir}`, () =>
      installCniPlugins({
        dir: binDir,
        types: pluginTypes,
        shimPath,
        nodePath: process.execPath,
        entryDir: pluginEntryDir,
      }),
    );
    await step(`creating node namespace ${nodeNs} with an uplink`, async () => {
      await kernel.netns.create(nodeNs);
      await kernel.netns.create(uplinkNs);
      await kernel.apply(namedNetns(nodeNs), [
        { op: "link.set", name: "lo", up: true },
        {
          op: "link.add",
          spec: { kind: "veth", name: "eth0", peer: { name: "down0", netns: namedNetns(uplinkNs) } },
        },
        { op: "addr.add", dev: "eth0", cidr: "192.168.250.2/24" },
        { op: "link.set", name: "eth0", up: true },
        { op: "route.replace", route: { dst: "default", via: "192.168.250.1" } },
      ]);
      await kernel.apply(namedNetns(uplinkNs), [
        { op: "link.set", name: "lo", up: true },
        { op: "addr.add", dev: "down0", cidr: "192.168.250.1/24" },
        { op: "link.set", name: "down0", up: true },
        // The way back to both demo pod networks is the node (no masquerade in the demo).
        { op: "route.replace", route: { dst: "10.88.0.0/15", via: "192.168.250.2" } },
      ]);
    });
    agent = await step("starting the strata agent inside the node", startAgent);
    const runtime = { cniPath: [binDir, "/usr/lib/cni"], execPrefix: ["ip", "netns", "exec", nodeNs] };
    for (const mode of ["bridge", "routed"] as const) {
      const list = confList(mode, join(work, "ipam"));
      for (let i = 1; i <= opts.pods; i++) {
        const pod: DemoPod = { ns: `${prefix}${mode}-pod${i}`, mode, containerId: `demo-${mode}-${i}` };
        pods.push(pod);
        await step(`ADD ${pod.ns} (${mode})`, async () => {
          await kernel.netns.create(pod.ns);
          const started = performance.now();
          pod.result = await addNetworkList(
            list,
            {
              containerId: pod.containerId,
              netns: `/run/netns/${pod.ns}`,
              ifName: "eth0",
              args: { K8S_POD_NAME: pod.ns },
            },
            runtime,
          );
          pod.addMs = performance.now() - started;
          const ips = (pod.result as { ips?: { address: string }[] }).ips ?? [];
          pod.ip = ips[0]?.address.split("/")[0];
        });
      }
    }
    console.log("\npod                          mode    address      ADD ms");
    for (const p of pods) {
      console.log(`${p.ns.padEnd(28)} ${p.mode.padEnd(7)} ${String(p.ip).padEnd(12)} ${p.addMs?.toFixed(1)}`);
    }
    console.log("\nconnectivity (ping from row to column; node = 192.168.250.2, uplink = 192.168.250.1):");
    // Short column names: b1 = bridge-pod1, r2 = routed-pod2.
    const short = (p: DemoPod) => `${p.mode[0]}${p.ns.slice(-1)}`;
    const targets = [
      ...pods.map((p) => ({ name: short(p), ip: p.ip ?? "" })),
      { name: "uplink", ip: "192.168.250.1" },
    ];
    const col = (text: string) => text.padStart(7);
    console.log(`${"from \\ to".padEnd(8)}${targets.map((t) => col(t.name)).join("")}`);
    for (const from of pods) {
      const cells: string[] = [];
      for (const to of targets) {
        if (to.ip === from.ip) {
          cells.push("-");
          continue;
        }
        const r = await kernel.exec(namedNetns(from.ns), ["ping", "-c", "1", "-W", "1", "-q", to.ip]);
        const reachable = r.code === 0;
        // Pods of the two demo networks reach each other through the node: routing, not bridging.
        if (!reachable) ok = false;
        cells.push(reachable ? "ok" : "FAIL");
      }
      console.log(`${short(from).padEnd(8)}${cells.map(col).join("")}`);
    }
    console.log(ok ? "\nall pods reach each other and the node's uplink ✔" : "\nsome pairs could not talk ✘");
    if (!opts.keep) {
      for (const p of pods) {
        await step(`DEL ${p.ns}`, () =>
          delNetworkList(
            confList(p.mode, join(work, "ipam")),
            { containerId: p.containerId, netns: `/run/netns/${p.ns}`, ifName: "eth0" },
            runtime,
            p.result,
          ),
        );
      }
    }
  } finally {
    agent?.kill("SIGTERM");
    if (!opts.keep) {
      await step("removing namespaces and files", async () => {
        await removeDemo();
        await rm(work, { recursive: true, force: true });
      });
    } else {
      console.log(`namespaces kept; remove them with: npx strata demo --down   (files in ${work})`);
    }
  }
  return ok;
}
