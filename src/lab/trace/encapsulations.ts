import { tunnelDeviceName } from "../../backends/tunnel/tunnel.js";
import type { Link } from "../../kernel/api.js";
import { tunnelOverhead } from "../../kernel/bpf-tunnel/api.js";
import type { LabPlaces } from "./lab-places.js";
import type { StopReason } from "./stop-reasons.js";
import type { NsFacts, OuterHeader, RouteGet } from "./trace-model.js";

/** What encapsulating the packet on a tunnel device gives: its outer header, or why it cannot. */
export type EncapResult =
  | { readonly outer: OuterHeader; readonly decidedBy: string }
  | { readonly stop: StopReason; readonly decidedBy: string };

/**
 * One tunnel type: which devices encapsulate this way, how such a device picks the outer header
 * (encapsulate), which device takes the packet off again (decapsulate) and how the outer header
 * reads. A model that adds a tunnel adds one entry here; the walk in predict-step.ts is the same
 * for every model.
 */
export interface Encapsulation {
  /** The outer header it makes (OuterHeader.kind). */
  readonly kind: OuterHeader["kind"];
  /** Is `link` a device that encapsulates this way (a route out of it is a tunnel entry)? */
  encapsulates(link: Link): boolean;
  encapsulate(
    link: Link,
    route: Extract<RouteGet, { ok: true }>,
    facts: NsFacts,
    places: LabPlaces,
  ): EncapResult;
  /**
   * The device in this namespace that decapsulates `outer` arriving on `inDev` (the inner packet
   * goes on from it), if any.
   */
  decapsulator(links: readonly Link[], outer: OuterHeader, inDev: string | undefined): Link | undefined;
  /** How the decapsulating namespace picks its device, for the hop's "by:". */
  decapsulatedBy(outer: OuterHeader, dev: Link): string;
}

/** The outer header in words: `a → b udp/8472 vni 1`, `a → b ipip`, `a → b gre key 7`. */
export function outerText(
  o: { src: string; dst: string } & (
    | { port: number; vni: number }
    | { kind: "ipip" | "gre" }
    | { proto: "ipip" | "gre"; key?: number }
  ),
): string {
  if ("port" in o) return `${o.src} → ${o.dst} udp/${o.port} vni ${o.vni}`;
  const proto = "proto" in o ? o.proto : o.kind;
  const key = "key" in o && o.key !== undefined ? ` key ${o.key}` : "";
  return `${o.src} → ${o.dst} ${proto}${key}`;
}

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
const vxlanOverhead = 50;

/**
 * VXLAN without learning (the vxlan backends): the route's onlink gateway is the remote VTEP
 * address; its permanent neighbour entry gives the VTEP MAC; the FDB entry for that MAC gives the
 * outer destination (RFC 7348 §4: the VTEP maps inner MAC to remote VTEP IP).
 */
export const vxlanEncapsulation: Encapsulation = {
  kind: "vxlan",
  encapsulates: (link) => link.kind === "vxlan",
  encapsulate(link, route, facts) {
    const vtep = route.gateway ?? route.dst;
    const neigh = facts.neighbours.find((n) => n.dev === link.name && n.ip === vtep);
    if (!neigh?.mac)
      return {
        stop: { kind: "vtep-neighbour-missing", ns: facts.ns, dev: link.name, ip: vtep },
        decidedBy: `no neigh ${vtep} on ${link.name}`,
      };
    if (neigh.state === "INCOMPLETE" || neigh.state === "FAILED")
      return {
        stop: { kind: "neighbour-incomplete", ns: facts.ns, dev: link.name, ip: vtep, state: neigh.state },
        decidedBy: `neigh ${vtep} ${neigh.state}`,
      };
    const fdb = facts.fdb.find((e) => e.dev === link.name && e.mac === neigh.mac && e.dst);
    const neighText = `neigh ${vtep} lladdr ${neigh.mac}`;
    if (!fdb?.dst)
      return {
        stop: { kind: "fdb-missing", ns: facts.ns, dev: link.name, mac: neigh.mac },
        decidedBy: `${neighText}; no fdb ${neigh.mac}`,
      };
    const vx = link.vxlan;
    return {
      outer: {
        kind: "vxlan",
        src: vx?.local ?? "",
        dst: fdb.dst,
        port: vx?.port ?? 8472,
        vni: vx?.vni ?? 0,
        overhead: vxlanOverhead,
      },
      decidedBy: `${neighText}; fdb ${neigh.mac} dst ${fdb.dst}`,
    };
  },
  decapsulator(links, outer) {
    if (outer.kind !== "vxlan") return undefined;
    return links.find(
      (l) => l.kind === "vxlan" && l.vxlan?.vni === outer.vni && (l.vxlan?.port ?? outer.port) === outer.port,
    );
  },
  decapsulatedBy: (outer, dev) =>
    outer.kind === "vxlan" ? `udp ${outer.port} vni ${outer.vni} → ${dev.name}` : dev.name,
};

/**
 * IPIP and GRE (the ipip and gre backends), either datapath. The kernel's device (`local <node>
 * remote any`) takes the outer destination from the route's onlink gateway, the peer's node
 * address. The tc-BPF datapath's TUN device `strata.<proto>` has a plain route; its egress program
 * finds the outer destination in its peer map, which the agent fills from the leases: here, the
 * node whose pod subnet holds the destination. Outer source: this node's underlay address.
 * Decapsulation: the kernel device of that protocol, or (BPF) the underlay's ingress program,
 * which strips the outer header and redirects the inner packet into the TUN device's ingress (so it
 * arrives from strata.<proto>, as from a kernel tunnel device).
 */
export function tunnelEncapsulation(proto: "ipip" | "gre"): Encapsulation {
  const tunName = tunnelDeviceName(proto);
  const isBpf = (l: Link) => l.kind === "tun" && l.name === tunName;
  return {
    kind: proto,
    encapsulates: (link) => link.kind === proto || isBpf(link),
    encapsulate(link, route, facts, places) {
      const self = places.state.nodes.find((n) => n.ns === facts.ns);
      const overhead = tunnelOverhead(proto);
      if (!isBpf(link)) {
        if (!route.gateway)
          return {
            stop: {
              kind: "no-route",
              ns: facts.ns,
              dst: route.dst,
              kernelSays: `${link.name} has remote any and the route names no gateway: no node to send to`,
            },
            decidedBy: `${link.name} remote any; no gateway`,
          };
        return {
          outer: { kind: proto, src: self?.ip ?? "", dst: route.gateway, overhead },
          decidedBy: `${link.name} remote any: outer destination the route's gateway ${route.gateway}`,
        };
      }
      const owner = places.subnetOwner(route.dst);
      const peer = owner && places.state.nodes.find((n) => n.name === owner.node);
      if (!owner || !peer || peer.ns === facts.ns)
        return {
          stop: {
            kind: "no-route",
            ns: facts.ns,
            dst: route.dst,
            kernelSays: `no node's pod subnet holds ${route.dst}: the tc-BPF peer map has no entry for it`,
          },
          decidedBy: `tc-BPF on ${link.name} egress: no peer for ${route.dst}`,
        };
      return {
        outer: { kind: proto, src: self?.ip ?? "", dst: peer.ip, overhead },
        decidedBy: `tc-BPF on ${link.name} egress: peer map ${owner.subnet} → ${peer.ip} (${peer.name}'s lease)`,
      };
    },
    decapsulator(links, outer) {
      if (outer.kind !== proto) return undefined;
      return links.find((l) => l.kind === proto) ?? links.find(isBpf);
    },
    decapsulatedBy: (_outer, dev) =>
      dev.kind === proto
        ? `${proto} → ${dev.name}`
        : `${proto}: tc-BPF on the underlay's ingress strips the outer header, hands the packet to ${dev.name}`,
  };
}

/** Every tunnel type the lab's models use. */
export const encapsulations: readonly Encapsulation[] = [
  vxlanEncapsulation,
  tunnelEncapsulation("ipip"),
  tunnelEncapsulation("gre"),
];

/** The encapsulation that made an outer header. */
export const encapsulationFor = (kind: OuterHeader["kind"]) => encapsulations.find((e) => e.kind === kind);

/** The encapsulation a route out of `link` goes through, if `link` is a tunnel device. */
export const encapsulatorFor = (link: Link) => encapsulations.find((e) => e.encapsulates(link));
