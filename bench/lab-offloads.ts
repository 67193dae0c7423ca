/**
 * The offload step of `strata lab up`'s underlay (buildNamespacesAndUnderlay): N node namespaces,
 * each's eth0 veth with its peer p-nI in an underlay namespace, and the lab plan's offload settings
 * (planLab's `offloads`: tso/gso off on the underlay's ports, gro on on every eth0) applied three
 * ways in the same run: the reference, what the step did before (`kernel.exec` of `ethtool -K`,
 * one nsenter+ethtool process per setting), `link.offload` ops through the iproute2 driver (the
 * same processes) and through the rtnetlink driver (ethtool ioctls, no process). Every timed round
 * starts from the veths' defaults (set back untimed), so each one changes every setting.
 * Usage: node dist/bench/lab-offloads.js [--nodes 200] [--rounds 5]   (root, under the heavy lock;
 * throwaway strata-b-offl- namespaces, never the lab's own)
 */
import { execFileSync } from "node:child_process";
import { type Kernel, type KernelOp, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { loadRtnetlinkAddon, withRtnetlink } from "../src/kernel/rtnetlink/driver.js";
import { planLab, underlayNs } from "../src/lab/topology.js";
import { benchLabSpec } from "./lab-bench-spec.js";
import { median } from "./stats.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} takes a positive integer`);
  return v;
};
const nodes = arg("--nodes", 200);
const rounds = arg("--rounds", 5);
const prefix = `strata-b-offl-${process.pid}-`;

const addon = loadRtnetlinkAddon();
if (!addon?.ethtoolSet) throw new Error("the rtnetlink addon with ethtoolSet is not built (npm run build)");
const ip = createIproute2Kernel();
const nl = withRtnetlink(createIproute2Kernel(), addon);

// The real plan's offloads, in this bench's own namespaces.
const plan = planLab(benchLabSpec("vxlan", nodes));
const rename = (ns: string) => (ns === underlayNs ? `${prefix}u` : `${prefix}${ns.replace(/^.*-/, "")}`);
const offloads = plan.offloads.map((o) => ({ ns: rename(o.ns), ops: o.ops }));
const names = [`${prefix}u`, ...plan.nodes.map((n) => rename(n.ns))];

/** What the step ran before: one `ethtool -K DEV FEATURES` through kernel.exec per setting. */
async function viaExec(k: Kernel): Promise<void> {
  for (const o of offloads)
    for (const op of o.ops) {
      if (op.op !== "link.offload") continue;
      const features = (["tso", "gso", "gro"] as const).flatMap((f) =>
        op[f] === undefined ? [] : [f, op[f] ? "on" : "off"],
      );
      const r = await k.exec(namedNetns(o.ns), ["ethtool", "-K", op.name, ...features]);
      if (r.code !== 0) throw new Error(`ethtool -K ${op.name} in ${o.ns}: ${r.stderr.trim()}`);
    }
}

const viaApply = async (k: Kernel) => {
  for (const o of offloads) await k.apply(namedNetns(o.ns), o.ops);
};

/** Back to a veth's defaults (tso, gso on; gro off), untimed. */
async function reset(): Promise<void> {
  for (const o of offloads)
    await nl.apply(
      namedNetns(o.ns),
      o.ops.map(
        (op): KernelOp => ({
          op: "link.offload",
          name: (op as { name: string }).name,
          tso: true,
          gso: true,
          gro: false,
        }),
      ),
    );
}

function cleanup(): void {
  for (const n of execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n")) {
    const name = n.split(" ")[0] ?? "";
    if (name.startsWith(prefix)) execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
  }
}

try {
  const t0 = performance.now();
  for (const n of names) await nl.netns.create(n);
  for (const n of plan.nodes)
    await nl.apply(namedNetns(rename(n.ns)), [
      {
        op: "link.add",
        spec: { kind: "veth", name: "eth0", peer: { name: `p-${n.name}`, netns: namedNetns(`${prefix}u`) } },
      },
    ]);
  console.log(`${nodes} node namespaces and their veths made in ${(performance.now() - t0).toFixed(0)} ms`);
  const ways: [string, () => Promise<void>][] = [
    ["before: kernel.exec ethtool -K (reference)", () => viaExec(ip)],
    ["link.offload, iproute2 driver", () => viaApply(ip)],
    ["link.offload, rtnetlink driver", () => viaApply(nl)],
  ];
  const samples = ways.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (const [i, [, run]] of ways.entries()) {
      await reset();
      const t = performance.now();
      await run();
      samples[i]?.push(performance.now() - t);
    }
  const settings = offloads.reduce((a, o) => a + o.ops.length, 0);
  const ref = median(samples[0] as number[]);
  console.log(
    `the lab's offload step, ${nodes} nodes (${settings} settings), ms, median of ${rounds} rounds`,
  );
  for (const [i, [label]] of ways.entries()) {
    const m = median(samples[i] as number[]);
    console.log(
      `  ${label.padEnd(44)} ${m.toFixed(1).padStart(9)}   ${(ref / m).toFixed(1).padStart(7)}× faster than the reference`,
    );
  }
} finally {
  cleanup();
}
