import { execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { pinName, strataPinRoot } from "../../src/kernel/bpf-tunnel/pin-paths.js";
import { TestNamespaces } from "./netns.js";

/**
 * Emulated nodes for the BPF tunnel datapath's tests and bench, wired by hand (the ipip/gre
 * backends do this in the product): each node a namespace with an underlay eth0 and one pod
 * namespace behind a veth; the nodes on one bridge in a switch namespace (l2), or odd nodes on
 * 192.168.10.0/24 and even ones on 192.168.20.0/24 joined by a router namespace (l3).
 * Node i: underlay 192.168.{10|20}.(10+i), pod CIDR 10.244.i.0/24, pod 10.244.i.2 (gateway .1).
 */
export interface TopologyNode {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly podCidr: string;
  readonly podNs: string;
  readonly podIp: string;
}

export interface TunnelTopology {
  /** The switch (l2) or router (l3) namespace. */
  readonly underlayNs: string;
  /** Where to capture the underlay: the bridge (l2), or "any" in the router (l3). */
  readonly captureDev: string;
  readonly nodes: readonly TopologyNode[];
  /** A third party on the underlay's first segment (192.168.10.99) that sends hand-made packets. */
  readonly attacker: { readonly ns: string; readonly ip: string };
}

/** `ip -n NS -batch -`: one process per namespace and step. */
export function ipBatch(ns: string, lines: readonly string[]): void {
  execFileSync("ip", ["-n", ns, "-batch", "-"], { input: `${lines.join("\n")}\n` });
}

export function sh(ns: string, argv: readonly string[]): string {
  return execFileSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8" });
}

export function buildTunnelTopology(
  t: TestNamespaces,
  opts: { nodes: number; underlay: "l2" | "l3"; podMtu: number },
): TunnelTopology {
  const underlayNs = t.create(opts.underlay === "l2" ? "sw" : "rt");
  const segments = opts.underlay === "l2" ? ["a"] : ["a", "b"];
  ipBatch(
    underlayNs,
    segments.flatMap((s, i) => [
      `link add br-${s} type bridge`,
      `link set br-${s} up`,
      ...(opts.underlay === "l3" ? [`addr add 192.168.${10 * (i + 1)}.1/24 dev br-${s}`] : []),
    ]),
  );
  if (opts.underlay === "l3") sh(underlayNs, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  const attach = (ns: string, port: string, segment: number, cidr: string, gw: boolean) => {
    const s = segments[segment] ?? "a";
    ipBatch(underlayNs, [
      `link add ${port} type veth peer name eth0 netns ${ns}`,
      `link set ${port} master br-${s} up`,
    ]);
    ipBatch(ns, [
      `addr add ${cidr} dev eth0`,
      "link set eth0 up",
      ...(gw ? [`route add default via 192.168.${10 * (segment + 1)}.1`] : []),
    ]);
  };
  const nodes: TopologyNode[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    const segment = opts.underlay === "l3" && i % 2 === 0 ? 1 : 0;
    const ip = `192.168.${10 * (segment + 1)}.${10 + i}`;
    const ns = t.create(`n${i}`);
    const podNs = t.create(`n${i}p`);
    attach(ns, `p-n${i}`, segment, `${ip}/24`, opts.underlay === "l3");
    sh(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ipBatch(ns, [
      `link add veth-pod type veth peer name eth0 netns ${podNs}`,
      `addr add 10.244.${i}.1/24 dev veth-pod`,
      "link set veth-pod up",
    ]);
    ipBatch(podNs, [
      `addr add 10.244.${i}.2/24 dev eth0`,
      `link set eth0 mtu ${opts.podMtu} up`,
      `route add default via 10.244.${i}.1`,
    ]);
    nodes.push({ name: `n${i}`, ns, ip, podCidr: `10.244.${i}.0/24`, podNs, podIp: `10.244.${i}.2` });
  }
  const attackerNs = t.create("x");
  attach(attackerNs, "p-x", 0, "192.168.10.99/24", opts.underlay === "l3");
  return {
    underlayNs,
    captureDev: opts.underlay === "l2" ? "br-a" : "any",
    nodes,
    attacker: { ns: attackerNs, ip: "192.168.10.99" },
  };
}

/** Each node routes every other node's pod CIDR into `tunnelDev` (what the backend does). */
export function routePodsThrough(
  topo: TunnelTopology,
  tunnelDev: string,
  only?: readonly TopologyNode[],
): void {
  for (const n of topo.nodes)
    ipBatch(
      n.ns,
      (only ?? topo.nodes).filter((o) => o !== n).map((o) => `route replace ${o.podCidr} dev ${tunnelDev}`),
    );
}

/**
 * Namespaces for one test, and the BPF pins the datapath made for them: pins outlive a namespace
 * (they are files on bpffs), so they are removed here too, also when the test fails.
 */
export async function withTunnelNamespaces<T>(
  prefix: string,
  fn: (t: TestNamespaces) => Promise<T>,
): Promise<T> {
  const t = new TestNamespaces(prefix);
  try {
    return await fn(t);
  } finally {
    for (const name of t.names) rmSync(`${strataPinRoot}/${pinName(name)}`, { recursive: true, force: true });
    t.cleanup();
  }
}

/**
 * Capture on the underlay while `fn` runs: tcpdump -nn -v text of up to `count` packets matching
 * `filter`. Resolves once tcpdump has exited (count reached, or 5 s after `fn`).
 */
export async function captureWhile(
  ns: string,
  dev: string,
  filter: string,
  count: number,
  fn: () => Promise<void>,
): Promise<string> {
  const child = spawn("ip", [
    "netns",
    "exec",
    ns,
    "timeout",
    "8",
    "tcpdump",
    "-nn",
    "-v",
    "-l",
    "-i",
    dev,
    "-c",
    String(count),
    filter,
  ]);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  const listening = new Promise<void>((resolve) =>
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      if (err.includes("listening on")) resolve();
    }),
  );
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  await Promise.race([listening, exited]);
  try {
    await fn();
  } finally {
    await exited;
  }
  return out;
}
