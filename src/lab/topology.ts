import { type BackendName, backendNames } from "../backends/registry.js";
import type { KernelOp } from "../kernel/api.js";
import type { LabAgentBgp } from "./agent-argv.js";
import {
  ipFamilyNodeOps,
  ipFamilyUnderlayOps,
  type LabIpFamily,
  labNodeGateway6,
  labNodeIp6,
} from "./ip-family.js";
import { labNodeMac, labSwitchMac } from "./underlay-macs.js";

/** The models the lab can bring up: every backend of the registry, by its name. */
export const labModels: readonly BackendName[] = backendNames;
export type LabModel = BackendName;

export interface LabSpec {
  readonly model: LabModel;
  readonly nodes: number;
  readonly podsPerNode: number;
  /** l2: every node on one switch; l3: two subnets joined by a router (odd nodes on A, even on B). */
  readonly underlay: "l2" | "l3";
  readonly datastore: "embedded" | "etcd";
  readonly clusterCidr: string;
  readonly underlayMtu: number;
  /** bgp on l2: how many nodes (the first K) reflect routes; 0 is a full mesh. */
  readonly routeReflectors?: number;
  /** How pods attach (the agents' --pod-attachment); absent: each backend's own choice. */
  readonly podAttachment?: "bridge" | "routed";
  /** Secondary networks every pod gets through the meta plugin (`--attach`); see secondary-networks.ts. */
  readonly attach?: readonly string[];
  /** The CNI type that attaches them (`--attach-plugin`): Strata's macvlan by default (Debian's `macvlan` also works). */
  readonly attachPlugin?: string;
  /** `--ip-family`: absent is ipv4; dual adds IPv6 to the underlay, the agents and the pods; ipv6 numbers pods in IPv6 alone (ip-family.ts). */
  readonly ipFamily?: LabIpFamily;
  /** `--agents-per-process`: node agents sharing one process (agent-hosts.ts); absent: auto. */
  readonly agentsPerProcess?: number;
}

/** The AS of the lab's BGP model (nodes and, on l3, the router). */
export const labAsn = 64512;

/**
 * Pure: the bgp model's agent options. l2: full mesh, or the first K nodes reflect for the rest.
 * l3: nodes peer only with their gateway router, which reflects with itself as next hop. Every
 * session is signed with the lab's TCP-MD5 key (`keyFile`) when one is given: a pod cannot speak
 * BGP to a node even with its traffic masqueraded to a node's address.
 */
export function bgpAgentOptions(spec: LabSpec, node: LabNode, keyFile?: string): LabAgentBgp {
  const hold = labBgpHoldSeconds(spec.nodes);
  const base = {
    asn: labAsn,
    ...(keyFile ? { passwordFile: keyFile } : {}),
    ...(hold !== undefined ? { holdTime: hold } : {}),
  };
  // IPv6-only: the session to the router runs over IPv6, to its address on the node's segment.
  const router = spec.ipFamily === "ipv6" ? labNodeGateway6(node) : node.gateway;
  if (spec.underlay === "l3")
    return { ...base, mesh: false, peers: [{ address: router, asn: labAsn }], routeReflectors: [] };
  return { ...base, mesh: true, peers: [], routeReflectors: labReflectors(spec) };
}

/**
 * Pure: the lab agents' BGP hold time, seconds (undefined: the agent's default, 9 s, up to 25
 * nodes). A full mesh of N agents sends N(N−1) keepalives every hold/3 seconds, each a TCP-MD5
 * segment through two namespaces' stacks on one 2-core machine: at 200 nodes and 90 s that was
 * 1,300 a second, a sixth of the agent hosts' CPU once the mesh was up. Past 25 nodes the lab uses
 * BIRD's default hold time, 240 s (keepalives every 80 s), which is what a Calico mesh runs with
 * unless configured otherwise; a killed agent's sessions still end at once (its sockets close), so
 * only a peer that hangs is found later.
 */
export function labBgpHoldSeconds(nodes: number): number | undefined {
  return nodes > 25 ? 240 : undefined;
}

/** Pure: the nodes that reflect in the bgp model on l2 (the first K; none for a full mesh). */
export function labReflectors(spec: Pick<LabSpec, "nodes" | "routeReflectors">): string[] {
  const k = Math.max(0, Math.min(spec.routeReflectors ?? 0, spec.nodes));
  return Array.from({ length: k }, (_, i) => `n${i + 1}`);
}

/**
 * Pure: the router's `strata bgp-speaker` flags on l3 (a reflector for every node). It takes only
 * pod routes from the nodes (prefixes inside the cluster CIDR), signed with the lab's key if given.
 * Each route goes on with the router's own address on the receiving node's segment (next-hop-self):
 * on IPv4 and dual stack the session's IPv4 one and its global IPv6 one on that interface; on
 * IPv6-only the session itself runs over IPv6, between the node's and the router's IPv6 addresses.
 */
export function routerSpeakerArgs(
  nodes: readonly LabNode[],
  /** The agents' --cluster-cidr: IPv4, IPv4,IPv6 on dual stack, or IPv6 alone (IPv6-only). */
  clusterCidr: string,
  keyFile?: string,
): string[] {
  const cidrs = clusterCidr.split(",");
  const imports = cidrs.map((c) => `import=${c}le${c.includes(":") ? 128 : 32}`).join(",");
  const opts = `rr-client,passive,next-hop-self,${imports}${keyFile ? `,password-file=${keyFile}` : ""}`;
  const ipv6 = cidrs.some((c) => c.includes(":")) ? ["--ipv6"] : [];
  const only6 = cidrs.every((c) => c.includes(":"));
  return [
    ...["--asn", String(labAsn), "--router-id", "192.168.10.1", "--cluster-id", "192.168.10.1"],
    ...["--listen", "179", "--hold", "9", "--install-routes", "--quiet", ...ipv6],
    // A lab's router reflects a few routes per node, no burst worth compiling for: it starts
    // cold, as the agents' embedded speakers do (the warm-up costs ~0.7 s of CPU at lab start).
    "--no-warm-up",
    ...nodes.flatMap((n) => ["--peer", `${only6 ? labNodeIp6(n) : n.ip},as=${labAsn},${opts}`]),
  ];
}

/** Sessions the bgp model should have: mesh n(n−1)/2, reflectors k(k−1)/2 + k(n−k), l3 n. */
export function expectedBgpSessions(spec: LabSpec): number {
  const n = spec.nodes;
  if (spec.underlay === "l3") return n;
  const k = Math.min(spec.routeReflectors ?? 0, n);
  if (k <= 0) return (n * (n - 1)) / 2;
  return (k * (k - 1)) / 2 + k * (n - k);
}

export const labPrefix = "strata-lab-";
/** The namespace that is the underlay: a switch (l2) or a router with two switches (l3). */
export const underlayNs = `${labPrefix}underlay`;
/** An address outside the cluster, on the underlay namespace, to test masquerade against. */
export const outsideIp = "203.0.113.10";

export interface LabNode {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string;
  readonly segment: "a" | "b";
  /** Its eth0's MAC, set when the link is made (underlay-macs.ts). */
  readonly mac: string;
}

export interface LabPod {
  readonly name: string;
  readonly ns: string;
  readonly node: string;
  readonly containerId: string;
}

export interface LabPlan {
  readonly spec: LabSpec;
  readonly nodes: readonly LabNode[];
  readonly pods: readonly LabPod[];
  /** Ops inside the underlay namespace (bridges, router addresses, forwarding). */
  readonly underlayOps: readonly KernelOp[];
  /** Ops inside each node namespace (its uplink veth is created from the node side). */
  readonly nodeOps: Readonly<Record<string, readonly KernelOp[]>>;
  /**
   * Offload settings (`link.offload` ops, one list per namespace: the underlay's ports in one) that
   * make the underlay's veths carry traffic as NICs and wires do: a switch or router port hands on
   * frames, not 64 KB TSO packets (tso/gso off), and a node's uplink reassembles what it receives (gro on; a veth does GRO only for frames from a peer
   * without TSO). Without them the lab's router cut encapsulated packets in software and no node
   * put them back together, which no real network does to one tunnel and not another.
   */
  readonly offloads: readonly { readonly ns: string; readonly ops: readonly KernelOp[] }[];
}

const segmentNet = { a: "192.168.10", b: "192.168.20" } as const;

/** Pure: the underlay segment of node n<i>: a on l2; on l3 the even nodes are on b, behind the router. */
export const labNodeSegment = (spec: Pick<LabSpec, "underlay">, node: string): "a" | "b" =>
  spec.underlay === "l3" && Number(node.slice(1)) % 2 === 0 ? "b" : "a";

/** Pure: the namespaces, links and addresses of a lab, before anything runs. */
export function planLab(spec: LabSpec): LabPlan {
  if (spec.nodes < 1 || spec.nodes > 200) throw new RangeError("--nodes must be between 1 and 200");
  if (spec.podsPerNode < 0 || spec.podsPerNode > 100)
    throw new RangeError("--pods must be between 0 and 100");
  const nodes: LabNode[] = [];
  for (let i = 1; i <= spec.nodes; i++) {
    const segment = labNodeSegment(spec, `n${i}`);
    nodes.push({
      name: `n${i}`,
      ns: `${labPrefix}n${i}`,
      ip: `${segmentNet[segment]}.${10 + i}`,
      prefix: 24,
      gateway: `${segmentNet[segment]}.1`,
      segment,
      mac: labNodeMac(i),
    });
  }
  const pods: LabPod[] = [];
  for (const n of nodes) {
    for (let p = 1; p <= spec.podsPerNode; p++) {
      pods.push({
        name: `${n.name}-p${p}`,
        ns: `${labPrefix}${n.name}-p${p}`,
        node: n.name,
        containerId: `lab-${n.name}-p${p}`,
      });
    }
  }
  const segments = spec.underlay === "l3" ? (["a", "b"] as const) : (["a"] as const);
  const underlayOps: KernelOp[] = [
    { op: "link.set", name: "lo", up: true },
    { op: "addr.add", dev: "lo", cidr: `${outsideIp}/32`, ifAbsent: true },
    { op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" },
  ];
  for (const s of segments) {
    underlayOps.push(
      {
        op: "link.add",
        spec: { kind: "bridge", name: `sw-${s}`, mtu: spec.underlayMtu, mac: labSwitchMac(s) },
        ifAbsent: true,
      },
      { op: "addr.add", dev: `sw-${s}`, cidr: `${segmentNet[s]}.1/24`, ifAbsent: true },
      { op: "link.set", name: `sw-${s}`, up: true },
    );
  }
  underlayOps.push(...ipFamilyUnderlayOps(spec));
  const nodeOps: Record<string, KernelOp[]> = {};
  for (const n of nodes) {
    const port = `p-${n.name}`;
    nodeOps[n.name] = [
      { op: "link.set", name: "lo", up: true },
      {
        op: "link.add",
        spec: {
          kind: "veth",
          name: "eth0",
          mtu: spec.underlayMtu,
          mac: n.mac,
          peer: { name: port, netns: { kind: "named", name: underlayNs }, mtu: spec.underlayMtu },
        },
      },
      { op: "addr.add", dev: "eth0", cidr: `${n.ip}/${n.prefix}` },
      { op: "link.set", name: "eth0", up: true },
      { op: "route.replace", route: { dst: "default", via: n.gateway, dev: "eth0" } },
      ...ipFamilyNodeOps(spec, n),
    ];
    underlayOps.push({ op: "link.set", name: port, master: `sw-${n.segment}`, up: true });
  }
  const offloads = [
    {
      ns: underlayNs,
      ops: nodes.map((n): KernelOp => ({ op: "link.offload", name: `p-${n.name}`, tso: false, gso: false })),
    },
    ...nodes.map((n) => ({ ns: n.ns, ops: [{ op: "link.offload", name: "eth0", gro: true } as const] })),
  ];
  return { spec, nodes, pods, underlayOps, nodeOps, offloads };
}
