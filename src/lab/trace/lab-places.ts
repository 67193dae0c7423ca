import ipaddr from "ipaddr.js";
import { contains, networkAddress } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";
import { labNodeGateway6, labNodeIp6, outsideIp6 } from "../ip-family.js";
import type { LabState } from "../state.js";
import { labNodeSegment, outsideIp, underlayNs } from "../topology.js";

/** A namespace of the lab as the trace names it. */
export interface LabPlace {
  readonly ns: string;
  /** A pod's or node's name, or "underlay". */
  readonly name: string;
  readonly kind: "pod" | "node" | "underlay";
  /** The node a pod runs on (pods only). */
  readonly node?: string;
}

/** A trace endpoint: the namespace that sends (or receives) and its address. */
export interface TraceEndpoint {
  readonly place: LabPlace;
  readonly ip: string;
  /** Its IPv6 address on a dual-stack lab (a name given, the other end IPv6). */
  readonly ip6?: string;
}

/** SRC or DST names nothing the lab has. */
export class TraceTargetError extends StrataError {
  constructor(what: string, message: string) {
    super("lab.trace.target", `${what}: ${message}`);
  }
}

/** An IPv6 address as the kernel and the capture print it (RFC 5952). */
const canonical6 = (ip: string): string => ipaddr.IPv6.parse(ip).toString();

/** The first address of an IPv6 pod subnet (the node's cni0 gateway): <prefix>::1. */
const firstHost6 = (subnet: string): string => {
  const net = networkAddress(subnet);
  return net.endsWith("::") ? `${net}1` : net;
};

const nextAddress = (ip: string) => {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  const n = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  const m = (n + 1) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join(".");
};

/** A node's IPv6 pod subnet: its only one on an IPv6-only lab, its second on dual stack. */
const subnet6Of = (n: LabState["nodes"][number]): string | undefined =>
  n.subnet?.includes(":") ? n.subnet : n.subnet6;

/**
 * Pure: every address of the lab and the namespace that holds it. Pods: their IPAM addresses (IPv4
 * and, on dual stack or IPv6-only, IPv6). Nodes: the underlay addresses, the pod gateway on cni0
 * (the subnet's first address, of each family) and the VTEP address (the IPv4 subnet's network
 * address, on the vxlan device). Underlay: the segment gateways and the outside addresses. A name
 * resolves to IPv6 on an IPv6-only lab (its pods have no IPv4 address), to IPv4 otherwise.
 */
export class LabPlaces {
  readonly #byIp = new Map<string, LabPlace>();
  readonly #byName = new Map<string, TraceEndpoint>();
  readonly underlay: LabPlace = { ns: underlayNs, name: "underlay", kind: "underlay" };
  /** The lab numbers its pods in IPv6 alone (`--ip-family ipv6`). */
  readonly ipv6Only: boolean;

  constructor(readonly state: LabState) {
    const family = state.spec.ipFamily;
    this.ipv6Only = family === "ipv6";
    const six = family === "ipv6" || family === "dual";
    for (const n of state.nodes) {
      const place: LabPlace = { ns: n.ns, name: n.name, kind: "node" };
      const ip6 = six ? labNodeIp6({ name: n.name, segment: labNodeSegment(state.spec, n.name) }) : undefined;
      this.#byIp.set(n.ip, place);
      if (ip6) this.#byIp.set(ip6, place);
      if (n.subnet && !n.subnet.includes(":")) {
        const net = networkAddress(n.subnet);
        this.#byIp.set(net, place);
        this.#byIp.set(nextAddress(net), place);
      }
      const subnet6 = subnet6Of(n);
      if (subnet6) this.#byIp.set(firstHost6(subnet6), place);
      this.#byName.set(n.name, { place, ip: this.ipv6Only && ip6 ? ip6 : n.ip, ...(ip6 ? { ip6 } : {}) });
    }
    for (const p of state.pods) {
      const place: LabPlace = { ns: p.ns, name: p.name, kind: "pod", node: p.node };
      if (p.ip) this.#byIp.set(p.ip, place);
      if (p.ip6) this.#byIp.set(p.ip6, place);
      this.#byName.set(p.name, {
        place,
        ip: this.ipv6Only && p.ip6 ? p.ip6 : p.ip,
        ...(p.ip6 ? { ip6: p.ip6 } : {}),
      });
    }
    for (const ip of ["192.168.10.1", "192.168.20.1", outsideIp]) this.#byIp.set(ip, this.underlay);
    if (six)
      for (const ip of [labNodeGateway6({ segment: "a" }), labNodeGateway6({ segment: "b" }), outsideIp6])
        this.#byIp.set(ip, this.underlay);
    this.#byName.set("outside", {
      place: this.underlay,
      ip: this.ipv6Only ? outsideIp6 : outsideIp,
      ...(six ? { ip6: outsideIp6 } : {}),
    });
  }

  /** The namespace holding `ip`, if any. */
  owner(ip: string): LabPlace | undefined {
    return this.#byIp.get(ip) ?? (ip.includes(":") ? this.#byIp.get(canonical6(ip)) : undefined);
  }

  byNs(ns: string): LabPlace | undefined {
    if (ns === this.underlay.ns) return this.underlay;
    for (const p of this.#byIp.values()) if (p.ns === ns) return p;
    return undefined;
  }

  /** The node whose pod subnet (of the address's family) holds `ip`, if any. */
  subnetOwner(ip: string): { node: string; subnet: string } | undefined {
    const v6 = ip.includes(":");
    for (const n of this.state.nodes) {
      const subnet = v6 ? subnet6Of(n) : n.subnet && !n.subnet.includes(":") ? n.subnet : undefined;
      if (subnet && contains(subnet, ip)) return { node: n.name, subnet };
    }
    return undefined;
  }

  /** The lab's outside addresses (the masquerade target of pod traffic leaving the cluster). */
  isOutside(ip: string): boolean {
    return ip === outsideIp || ip === outsideIp6;
  }

  /** SRC/DST: a pod name or address, a node name or address, "outside" or its address. */
  resolve(what: "SRC" | "DST", spec: string): TraceEndpoint {
    const named = this.#byName.get(spec);
    if (named) return named;
    const ip = spec.includes(":") && ipaddr.IPv6.isValid(spec) ? canonical6(spec) : spec;
    const place = this.#byIp.get(ip);
    if (place && (place.kind !== "underlay" || this.isOutside(ip))) return { place, ip };
    const names = [...this.#byName.keys()];
    throw new TraceTargetError(
      what,
      `"${spec}" is no pod, node or "outside" of the lab (one of ${names.join(", ")}, or their addresses)`,
    );
  }
}
