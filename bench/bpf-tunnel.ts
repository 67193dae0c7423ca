/**
 * The tc-BPF tunnel datapath against a hand-built kernel VXLAN, between the same namespaces in the
 * same run: iperf3 TCP throughput and ping RTT pod→pod across two nodes on an l2 switch, plus the
 * raw underlay (node→node) as the limit. Rows: BPF IPIP, GRE, GRE with a key, VXLAN (kernel
 * device, VNI 1, port 8472, static FDB as the vxlan backend writes it), and two builds of the
 * program with a design choice reversed (compiled here with -D): the GSO size cut by the outer
 * header (no BPF_F_ADJ_ROOM_FIXED_GSO), and decapsulated packets handed to the stack on the
 * underlay instead of redirected into the TUN device. Medians over interleaved rounds; never gates CI.
 * Usage: node dist/bench/bpf-tunnel.js [--seconds S] [--rounds R]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { namedNetns } from "../src/kernel/api.js";
import {
  type BpfTunnelConfig,
  builtTunnelObjectPath,
  createBpfTunnelDatapath,
  type TunnelProto,
  tunnelOverhead,
} from "../src/kernel/bpf-tunnel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { rttMicros, throughputGbps } from "../src/lab/measure.js";
import {
  buildTunnelTopology,
  ipBatch,
  routePodsThrough,
  type TopologyNode,
  type TunnelTopology,
  withTunnelNamespaces,
} from "../test/support/bpf-tunnel-topology.js";
import { median } from "./stats.js";

const arg = (name: string, dflt: number) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt;
const seconds = arg("--seconds", 2);
const rounds = arg("--rounds", 3);
const kernel = createIproute2Kernel();
const UNDERLAY_MTU = 1500;

/** The program built with one design choice reversed, for the comparison rows. */
function buildVariant(define: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "strata-bpf-bench-"));
  const out = join(dir, `tunnel-${define}.bpf.o`);
  const multiarch = spawnSync("cc", ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim();
  const src = resolve(import.meta.dirname, "../../src/kernel/bpf-tunnel/tunnel.bpf.c");
  const r = spawnSync("clang", [
    ...["-O2", "-g", "-target", "bpf", `-D${define}`, ...(multiarch ? [`-I/usr/include/${multiarch}`] : [])],
    ...["-c", src, "-o", out],
  ]);
  return r.status === 0 ? out : undefined;
}

interface Variant {
  readonly label: string;
  setup(topo: TunnelTopology): Promise<void>;
  teardown(topo: TunnelTopology): Promise<void>;
  /** raw: node→node on the underlay; otherwise pod→pod. */
  readonly raw?: boolean;
}

function bpfVariant(
  label: string,
  proto: TunnelProto,
  greKey?: number,
  objectPath = builtTunnelObjectPath,
): Variant {
  const dp = createBpfTunnelDatapath({ objectPath, kernel });
  const mtu = UNDERLAY_MTU - tunnelOverhead(proto, greKey);
  const config = (n: TopologyNode): BpfTunnelConfig => ({
    proto,
    ...(greKey !== undefined ? { greKey } : {}),
    tunnelDev: `strata.${proto}`,
    underlayDev: "eth0",
    localIp: n.ip,
    mtu,
  });
  return {
    label,
    async setup(topo) {
      for (const n of topo.nodes) {
        await dp.ensure(namedNetns(n.ns), config(n));
        await dp.syncPeers(
          namedNetns(n.ns),
          config(n),
          topo.nodes.filter((o) => o !== n).map((o) => ({ node: o.name, nodeIp: o.ip, podCidr: o.podCidr })),
        );
        ipBatch(n.podNs, [`link set eth0 mtu ${mtu}`]);
      }
      routePodsThrough(topo, `strata.${proto}`);
    },
    async teardown(topo) {
      for (const n of topo.nodes) await dp.remove(namedNetns(n.ns), config(n));
    },
  };
}

const vxlanMac = (i: number) => `02:53:54:00:00:0${i}`;
const vxlan: Variant = {
  label: "kernel VXLAN",
  async setup(topo) {
    topo.nodes.forEach((n, i) => {
      ipBatch(n.ns, [
        `link add strata.vx type vxlan id 1 dstport 8472 local ${n.ip} dev eth0 nolearning`,
        `link set strata.vx address ${vxlanMac(i + 1)} mtu ${UNDERLAY_MTU - 50} up`,
        `addr add ${n.podCidr.replace(/\/\d+$/, "/32")} dev strata.vx`,
        ...topo.nodes.flatMap((o, j) => {
          if (o === n) return [];
          const gw = o.podCidr.replace(/\/\d+$/, "");
          return [
            `neigh replace ${gw} lladdr ${vxlanMac(j + 1)} dev strata.vx nud permanent`,
            `route replace ${o.podCidr} via ${gw} dev strata.vx onlink`,
          ];
        }),
      ]);
      execFileSync("bridge", ["-n", n.ns, "-batch", "-"], {
        input: `${topo.nodes
          .map((o, j) => (o === n ? "" : `fdb append ${vxlanMac(j + 1)} dev strata.vx dst ${o.ip}`))
          .filter(Boolean)
          .join("\n")}\n`,
      });
      ipBatch(n.podNs, [`link set eth0 mtu ${UNDERLAY_MTU - 50}`]);
    });
  },
  async teardown(topo) {
    for (const n of topo.nodes) ipBatch(n.ns, ["link del strata.vx"]);
  },
};
const raw: Variant = {
  label: "raw underlay (node→node)",
  raw: true,
  setup: async () => {},
  teardown: async () => {},
};

const variants: Variant[] = [
  raw,
  vxlan,
  bpfVariant("BPF IPIP", "ipip"),
  bpfVariant("BPF GRE", "gre"),
  bpfVariant("BPF GRE, key", "gre", 42),
];
const shrink = buildVariant("STRATA_VARIANT_GSO_SHRINK");
if (shrink) variants.push(bpfVariant("BPF IPIP, GSO size cut (alt.)", "ipip", undefined, shrink));
const toStack = buildVariant("STRATA_VARIANT_DECAP_TO_STACK");
if (toStack) variants.push(bpfVariant("BPF IPIP, decap to stack (alt.)", "ipip", undefined, toStack));

const softnetDrops = () =>
  execFileSync("cat", ["/proc/net/softnet_stat"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .reduce((s, l) => s + Number.parseInt(l.split(" ")[1] ?? "0", 16), 0);

await withTunnelNamespaces("bench", async (t) => {
  const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: UNDERLAY_MTU });
  const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
  const samples = new Map(
    variants.map((v) => [v.label, { gbps: [] as number[], us: [] as number[], drops: 0 }]),
  );
  for (let r = 0; r < rounds; r++)
    for (const v of variants) {
      await v.setup(topo);
      try {
        const s = samples.get(v.label);
        if (!s) continue;
        const [from, to, ip] = v.raw ? [n1.ns, n2.ns, n2.ip] : [n1.podNs, n2.podNs, n2.podIp];
        const drops = softnetDrops();
        s.gbps.push(await throughputGbps(kernel, from, to, ip, seconds));
        s.drops += softnetDrops() - drops;
        s.us.push(await rttMicros(kernel, from, ip, 50));
      } finally {
        await v.teardown(topo);
      }
    }
  const row = (label: string) => {
    const s = samples.get(label);
    return {
      gbps: median(s?.gbps ?? []),
      worst: Math.min(...(s?.gbps ?? [])),
      us: median(s?.us ?? []),
      drops: s?.drops ?? 0,
    };
  };
  const base = row(vxlan.label);
  const lim = row(raw.label);
  console.log(
    `bpf-tunnel bench: ${rounds} rounds × ${seconds} s iperf3, ping ×50; medians (worst throughput in brackets)`,
  );
  console.log(
    `${"path".padEnd(34)}${"Gbit/s".padStart(16)}${"× VXLAN".padStart(9)}${"× raw".padStart(7)}${"RTT µs".padStart(8)}${"RTT × VXLAN".padStart(13)}${"backlog drops".padStart(15)}`,
  );
  for (const v of variants) {
    const x = row(v.label);
    console.log(
      `${v.label.padEnd(34)}${`${x.gbps.toFixed(2)} [${x.worst.toFixed(2)}]`.padStart(16)}${(x.gbps / base.gbps).toFixed(2).padStart(9)}${(x.gbps / lim.gbps).toFixed(2).padStart(7)}${x.us.toFixed(0).padStart(8)}${(x.us / base.us).toFixed(2).padStart(13)}${String(x.drops).padStart(15)}`,
    );
  }
});
