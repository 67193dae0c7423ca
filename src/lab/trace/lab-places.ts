import ipaddr from "ipaddr.js";
import { contains, networkAddress } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";
import type { LabState } from "../state.js";
import { outsideIp, underlayNs } from "../topology.js";

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
}

/** SRC or DST names nothing the lab has. */
export class TraceTargetError extends StrataError {
  constructor(what: string, message: string) {
    super("lab.trace.target", `${what}: ${message}`);
  }
}

const nextAddress = (ip: string) => {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  const n = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  const m = (n + 1) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join(".");
};

/**
 * Pure: every address of the lab and the namespace that holds it. Pods: their IPAM address. Nodes:
 * the underlay address, the pod gateway on cni0 (the subnet's first address) and the VTEP address
 * (the subnet's network address, on the vxlan device). Underlay: the segment gateways and the
 * outside address.
 */
export class LabPlaces {
  readonly #byIp = new Map<string, LabPlace>();
  readonly #byName = new Map<string, TraceEndpoint>();
  readonly underlay: LabPlace = { ns: underlayNs, name: "underlay", kind: "underlay" };

  constructor(readonly state: LabState) {
    for (const n of state.nodes) {
      const place: LabPlace = { ns: n.ns, name: n.name, kind: "node" };
      this.#byIp.set(n.ip, place);
      if (n.subnet && !n.subnet.includes(":")) {
        const net = networkAddress(n.subnet);
        this.#byIp.set(net, place);
        this.#byIp.set(nextAddress(net), place);
      }
      this.#byName.set(n.name, { place, ip: n.ip });
    }
    for (const p of state.pods) {
      const place: LabPlace = { ns: p.ns, name: p.name, kind: "pod", node: p.node };
      this.#byIp.set(p.ip, place);
      this.#byName.set(p.name, { place, ip: p.ip });
    }
    for (const ip of ["192.168.10.1", "192.168.20.1", outsideIp]) this.#byIp.set(ip, this.underlay);
    this.#byName.set("outside", { place: this.underlay, ip: outsideIp });
  }

  /** The namespace holding `ip`, if any. */
  owner(ip: string): LabPlace | undefined {
    return this.#byIp.get(ip);
  }

  byNs(ns: string): LabPlace | undefined {
    if (ns === this.underlay.ns) return this.underlay;
    for (const p of this.#byIp.values()) if (p.ns === ns) return p;
    return undefined;
  }

  /** The node whose pod subnet holds `ip`, if any. */
  subnetOwner(ip: string): { node: string; subnet: string } | undefined {
    const n = this.state.nodes.find((x) => x.subnet && contains(x.subnet, ip));
    return n ? { node: n.name, subnet: n.subnet } : undefined;
  }

  /** SRC/DST: a pod name or address, a node name or address, "outside" or its address. */
  resolve(what: "SRC" | "DST", spec: string): TraceEndpoint {
    const named = this.#byName.get(spec);
    if (named) return named;
    const place = this.#byIp.get(spec);
    if (place && (place.kind !== "underlay" || spec === outsideIp)) return { place, ip: spec };
    const names = [...this.#byName.keys()];
    throw new TraceTargetError(
      what,
      `"${spec}" is no pod, node or "outside" of the lab (one of ${names.join(", ")}, or their addresses)`,
    );
  }
}
