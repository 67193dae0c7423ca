import type { Link } from "../../kernel/api.js";
import type { StopReason } from "./stop-reasons.js";
import type { NsFacts, OuterHeader, RouteGet } from "./trace-model.js";

/** What encapsulating the packet on a tunnel device gives: its outer header, or why it cannot. */
export type EncapResult =
  | { readonly outer: OuterHeader; readonly decidedBy: string }
  | { readonly stop: StopReason; readonly decidedBy: string };

/**
 * One tunnel type: how its device picks the outer header (encapsulate) and which device takes the
 * packet off again (decapsulate). A model that adds a tunnel adds one entry here; the walk in
 * predict-step.ts is the same for every model.
 */
export interface Encapsulation {
  /** The link kind of the tunnel device (IFLA_INFO_KIND). */
  readonly linkKind: string;
  encapsulate(link: Link, route: Extract<RouteGet, { ok: true }>, facts: NsFacts): EncapResult;
  /** The device in this namespace that decapsulates `outer`, if any. */
  decapsulator(links: readonly Link[], outer: OuterHeader): Link | undefined;
}

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
const vxlanOverhead = 50;

/**
 * VXLAN without learning (the vxlan backends): the route's onlink gateway is the remote VTEP
 * address; its permanent neighbour entry gives the VTEP MAC; the FDB entry for that MAC gives the
 * outer destination (RFC 7348 §4: the VTEP maps inner MAC to remote VTEP IP).
 */
export const vxlanEncapsulation: Encapsulation = {
  linkKind: "vxlan",
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
    return links.find(
      (l) => l.kind === "vxlan" && l.vxlan?.vni === outer.vni && (l.vxlan?.port ?? outer.port) === outer.port,
    );
  },
};

/** Every tunnel type the lab's models use, by link kind. */
export const encapsulations: readonly Encapsulation[] = [vxlanEncapsulation];

export const encapsulationFor = (linkKind: string | undefined) =>
  encapsulations.find((e) => e.linkKind === linkKind);
