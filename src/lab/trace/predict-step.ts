import { contains } from "../../common/cidr.js";
import type { Link } from "../../kernel/api.js";
import { labClusterCidr6, labNodeIp6 } from "../ip-family.js";
import { labNodeSegment } from "../topology.js";
import { encapsulationFor, encapsulatorFor } from "./encapsulations.js";
import type { LabPlace, LabPlaces } from "./lab-places.js";
import type { StopReason } from "./stop-reasons.js";
import type { NsFacts, Position, PredictedHop, RouteGet } from "./trace-model.js";

/**
 * The predicted path, one namespace at a time (pure). trace-facts.ts reads a namespace's kernel
 * state for a Position; `predictStep` says what that kernel does with the packet: the hop(s) in
 * this namespace and where the packet goes next, or why it stops. The route is always the one the
 * kernel chose (`ip route get`), never a lookup of our own.
 */

/** What trace-facts.ts must ask `ip route get` for at this position. */
export interface RouteQuery {
  readonly dst: string;
  readonly from?: string;
  /** The input interface (a bridge port routes through its bridge); undefined: sent from here. */
  readonly iif?: string;
}

/** Pure: the arriving link, found by name or by the index its veth peer named. */
export function arrivalLink(pos: Position, links: readonly Link[]): Link | undefined {
  const a = pos.arrivedOn;
  if (a === undefined) return undefined;
  return typeof a === "string" ? links.find((l) => l.name === a) : links.find((l) => l.index === a.index);
}

const routedHeader = (pos: Position) =>
  pos.outer ? { src: pos.outer.src, dst: pos.outer.dst } : { src: pos.packet.src, dst: pos.packet.dst };

/** Pure: the `ip route get` this position needs, given the namespace's links. */
export function routeQuery(pos: Position, links: readonly Link[]): RouteQuery {
  const h = routedHeader(pos);
  const link = arrivalLink(pos, links);
  if (!link) return { dst: h.dst, ...(h.src ? { from: h.src } : {}) };
  return { dst: h.dst, from: h.src, iif: link.master ?? link.name };
}

/** Pure: decode `ip -j route get` (stdout, or the error on stderr). */
export function parseRouteGet(code: number, stdout: string, stderr: string): RouteGet {
  if (code !== 0) {
    const error = stderr.replace(/^RTNETLINK answers:\s*/m, "").trim() || `ip exited ${code}`;
    return { ok: false, error };
  }
  const r = (JSON.parse(stdout) as Record<string, unknown>[])[0] ?? {};
  const type = typeof r.type === "string" ? r.type : "unicast";
  if (type !== "unicast" && type !== "local") return { ok: false, error: `route type ${type}` };
  return {
    ok: true,
    type,
    dst: String(r.dst ?? ""),
    dev: String(r.dev ?? ""),
    ...(typeof r.gateway === "string" ? { gateway: r.gateway } : {}),
    ...(typeof r.prefsrc === "string" ? { prefsrc: r.prefsrc } : {}),
    flags: Array.isArray(r.flags) ? (r.flags as string[]) : [],
  };
}

export interface StepResult {
  readonly hops: readonly PredictedHop[];
  readonly next?: Position;
  readonly delivered?: boolean;
}

const isLinkLocal6 = (a: string) => /^fe[89ab][0-9a-f]:/i.test(a);

const describePlace = (p: LabPlace | undefined, ns: string) => p?.name ?? ns;

function routeText(facts: NsFacts, route: Extract<RouteGet, { ok: true }>): string {
  const e = facts.routeEntry;
  if (e)
    return [
      `route ${e.dst}`,
      e.gateway ? `via ${e.gateway}` : "",
      e.dev ? `dev ${e.dev}` : "",
      e.protocol && e.protocol !== "boot" ? `proto ${e.protocol}` : "",
    ]
      .filter(Boolean)
      .join(" ");
  return `route get → ${route.gateway ? `via ${route.gateway} ` : ""}dev ${route.dev}`;
}

/** Pure: what the kernel of `facts.ns` does with the packet at `pos`. */
export function predictStep(pos: Position, facts: NsFacts, places: LabPlaces): StepResult {
  const place = places.byNs(pos.ns);
  const name = describePlace(place, pos.ns);
  const h = routedHeader(pos);
  const size = pos.packet.size + (pos.outer?.overhead ?? 0);
  const base = {
    ns: pos.ns,
    place: name,
    src: h.src,
    dst: h.dst,
    ...(pos.outer ? { outer: pos.outer } : {}),
  };
  const stopHop = (stop: StopReason, decidedBy: string, devs: Partial<PredictedHop> = {}): StepResult => ({
    hops: [{ ...base, action: "stop", decidedBy, captureDevs: [], ...devs, stop }],
  });
  const link = arrivalLink(pos, facts.links);
  const inDev = link?.name;

  // Arrival: the receiving device must be up and large enough (a veth drops what exceeds the
  // receiving end's MTU, whatever the sending end's: __dev_forward_skb), and a guarded pod port admits only the pod's own sources.
  if (pos.arrivedOn !== undefined) {
    if (!link)
      return stopHop({ kind: "no-route", ns: pos.ns, dst: h.dst, kernelSays: "no arrival device" }, "");
    if (!link.up) return stopHop({ kind: "link-down", ns: pos.ns, dev: link.name }, `link ${link.name}`);
    if (size > link.mtu)
      return stopHop(
        { kind: "mtu-exceeded", ns: pos.ns, dev: link.name, packetBytes: size, mtu: link.mtu },
        `link ${link.name} mtu ${link.mtu}`,
        { inDev: link.name },
      );
    const guard = facts.guard;
    if (guard && !pos.outer && guard.ports.includes(link.name)) {
      // Each family has its own set (@v4, @v6); an IPv6 link-local source passes (the guard's rule).
      const set = pos.packet.src.includes(":") ? "v6" : "v4";
      const allowed = guard[set]?.[link.name] ?? [];
      if (!allowed.includes(pos.packet.src) && !isLinkLocal6(pos.packet.src))
        return stopHop(
          { kind: "spoofed-source", ns: pos.ns, port: link.name, src: pos.packet.src, allowed },
          `bridge strata-antispoof: ${link.name} . ${pos.packet.src} not in @${set} → drop`,
          { inDev: link.name, captureDevs: [link.name] },
        );
    }
  }

  // An L2 underlay: a frame for another namespace's address is switched, not routed.
  if (place?.kind === "underlay" && link?.master && pos.l2Dst) {
    const owner = places.owner(pos.l2Dst);
    if (owner && owner.ns !== pos.ns) {
      const port = facts.links.find((l) => l.master === link.master && l.name === `p-${owner.name}`);
      if (!port)
        return stopHop({ kind: "next-hop-unknown", ns: pos.ns, ip: pos.l2Dst }, `bridge ${link.master}`);
      const hop: PredictedHop = {
        ...base,
        action: "switch",
        inDev: link.name,
        outDev: port.name,
        decidedBy: `bridge ${link.master}: ${pos.l2Dst} (${owner.name}) is behind port ${port.name}`,
        captureDevs: [link.name, port.name],
      };
      // No MTU check here: a veth checks the receiving end's MTU (the next namespace's arrival).
      if (!port.up)
        return {
          hops: [{ ...hop, action: "stop", stop: { kind: "link-down", ns: pos.ns, dev: port.name } }],
        };
      return {
        hops: [hop],
        next: { ...pos, ns: owner.ns, arrivedOn: port.peerIndex ? { index: port.peerIndex } : "eth0" },
      };
    }
  }

  const route = facts.route;
  if (!route.ok)
    return stopHop({ kind: "no-route", ns: pos.ns, dst: h.dst, kernelSays: route.error }, "route get");

  // A node sends another node's pod address along its default route: the pod route is missing.
  const owner = places.subnetOwner(pos.packet.dst);
  if (
    place?.kind === "node" &&
    !pos.outer &&
    owner &&
    owner.node !== place.name &&
    facts.routeEntry?.dst === "default"
  )
    return stopHop(
      {
        kind: "pod-route-missing",
        node: place.name,
        subnet: owner.subnet,
        owner: owner.node,
        took: routeText(facts, route),
      },
      routeText(facts, route),
      { ...(inDev ? { inDev } : {}), captureDevs: inDev ? [inDev] : [] },
    );

  if (route.type === "local") {
    if (pos.outer) {
      const enc = pos.outer;
      const decap = encapsulationFor(enc.kind);
      const dev = decap?.decapsulator(facts.links, enc, inDev);
      if (!decap || !dev)
        return stopHop(
          {
            kind: "no-route",
            ns: pos.ns,
            dst: h.dst,
            kernelSays:
              enc.kind === "vxlan"
                ? `no ${enc.kind} device for VNI ${enc.vni} port ${enc.port}`
                : `no ${enc.kind} device and no tc-BPF ${enc.kind} datapath`,
          },
          "local",
        );
      return {
        hops: [
          {
            ...base,
            action: "decapsulate",
            ...(inDev ? { inDev } : {}),
            outDev: dev.name,
            decidedBy: `local ${h.dst}; ${decap.decapsulatedBy(enc, dev)}`,
            captureDevs: inDev ? [inDev] : [],
          },
        ],
        next: { ns: pos.ns, arrivedOn: dev.name, packet: pos.packet },
      };
    }
    return {
      hops: [
        {
          ...base,
          action: "deliver",
          ...(inDev ? { inDev } : {}),
          decidedBy: `local ${h.dst}`,
          captureDevs: inDev ? [inDev] : [],
        },
      ],
      delivered: true,
    };
  }

  const out = facts.links.find((l) => l.name === route.dev);
  const decided = routeText(facts, route);
  const devs = { ...(inDev ? { inDev } : {}), outDev: route.dev };
  if (!out)
    return stopHop(
      { kind: "no-route", ns: pos.ns, dst: h.dst, kernelSays: `no device ${route.dev}` },
      decided,
    );
  if (!out.up) return stopHop({ kind: "link-down", ns: pos.ns, dev: out.name }, decided, devs);
  const action = pos.arrivedOn === undefined ? "send" : "forward";
  const capture = [...(inDev ? [inDev] : []), out.name];
  if (size > out.mtu)
    return stopHop(
      { kind: "mtu-exceeded", ns: pos.ns, dev: out.name, packetBytes: size, mtu: out.mtu },
      `${decided}; mtu ${out.mtu}`,
      { ...devs, captureDevs: inDev ? [inDev] : [] },
    );

  // A tunnel device: its encapsulation picks the outer header; the outer packet is then routed here.
  const encap = pos.outer ? undefined : encapsulatorFor(out);
  if (encap) {
    const r = encap.encapsulate(out, route, facts, places);
    if ("stop" in r)
      return stopHop(r.stop, `${decided}; ${r.decidedBy}`, { ...devs, captureDevs: inDev ? [inDev] : [] });
    const outer = r.outer.src ? r.outer : { ...r.outer, src: route.prefsrc ?? "" };
    return {
      hops: [
        {
          ...base,
          action: "encapsulate",
          ...devs,
          outer,
          decidedBy: `${decided}; ${r.decidedBy}`,
          captureDevs: capture,
        },
      ],
      next: { ns: pos.ns, packet: pos.packet, outer },
    };
  }

  const nextHop = route.gateway ?? h.dst;
  const neigh = facts.neighbours.find((n) => n.dev === out.name && n.ip === nextHop);
  if (neigh && (neigh.state === "INCOMPLETE" || neigh.state === "FAILED"))
    return stopHop(
      { kind: "neighbour-incomplete", ns: pos.ns, dev: out.name, ip: nextHop, state: neigh.state },
      `${decided}; neigh ${nextHop} ${neigh.state}`,
      { ...devs, captureDevs: capture },
    );
  const neighText = neigh?.mac ? `; neigh ${nextHop} lladdr ${neigh.mac}` : `; neigh ${nextHop} (to resolve)`;

  // Masquerade (strata-nat, `ip6 strata-nat` for IPv6): pod traffic leaving the cluster CIDR of
  // its family takes the node's address of that family.
  let packet = pos.packet;
  let nat = "";
  const v6 = packet.src.includes(":");
  const cidr = v6 ? labClusterCidr6 : places.state.spec.clusterCidr;
  if (place?.kind === "node" && facts.masquerade && !pos.outer && out.kind !== "bridge") {
    if (contains(cidr, packet.src) && !contains(cidr, packet.dst)) {
      const node = places.state.nodes.find((n) => n.name === place.name);
      const nodeIp =
        (v6 && node
          ? labNodeIp6({ name: node.name, segment: labNodeSegment(places.state.spec, node.name) })
          : node?.ip) ?? packet.src;
      packet = { ...packet, src: nodeIp };
      nat = `; masquerade ${pos.packet.src} → ${nodeIp} (${v6 ? "ip6" : "ip"} strata-nat)`;
    }
  }
  const hop: PredictedHop = {
    ...base,
    action,
    ...devs,
    decidedBy: `${decided}${neighText}${nat}`,
    captureDevs: capture,
  };

  // Where the out device leads: a bridge to the namespace holding the next hop; a veth to its peer.
  const nextPlace = places.owner(nextHop);
  const carried = pos.outer ? { outer: pos.outer } : {};
  if (out.kind === "bridge") {
    if (!nextPlace || nextPlace.ns === pos.ns)
      return stopHop({ kind: "next-hop-unknown", ns: pos.ns, ip: nextHop }, hop.decidedBy, devs);
    if (place?.kind === "underlay") {
      // The router's segment bridge: the frame leaves through the port toward that node.
      // (Its MTU is not checked: a veth checks the receiving end's, at the next namespace.)
      const port = facts.links.find((l) => l.master === out.name && l.name === `p-${nextPlace.name}`);
      if (port) {
        return {
          hops: [{ ...hop, outDev: port.name, captureDevs: [...capture, port.name] }],
          next: {
            ns: nextPlace.ns,
            arrivedOn: port.peerIndex ? { index: port.peerIndex } : "eth0",
            packet,
            ...carried,
            l2Dst: nextHop,
          },
        };
      }
    }
    return { hops: [hop], next: { ns: nextPlace.ns, arrivedOn: "eth0", packet, ...carried, l2Dst: nextHop } };
  }
  if (out.kind === "veth") {
    // A pod's veth leads to its node; a node's to the underlay, or (pods attached routed, no
    // bridge) to the pod the route names.
    const ownPod = nextPlace?.kind === "pod" && place?.kind === "node" && nextPlace.node === place.name;
    const peerNs =
      place?.kind === "pod"
        ? places.state.nodes.find((n) => n.name === place.node)?.ns
        : place?.kind === "node" && !ownPod
          ? places.underlay.ns
          : nextPlace?.ns;
    if (!peerNs) return stopHop({ kind: "next-hop-unknown", ns: pos.ns, ip: nextHop }, hop.decidedBy, devs);
    return {
      hops: [hop],
      next: {
        ns: peerNs,
        arrivedOn: out.peerIndex ? { index: out.peerIndex } : "eth0",
        packet,
        ...carried,
        l2Dst: nextHop,
      },
    };
  }
  return stopHop({ kind: "next-hop-unknown", ns: pos.ns, ip: nextHop }, hop.decidedBy, devs);
}
