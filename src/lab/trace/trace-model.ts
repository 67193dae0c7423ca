import type { FdbEntry, Link, Neighbour } from "../../kernel/api.js";
import type { StopReason } from "./stop-reasons.js";

export type TraceProto = "icmp" | "tcp" | "udp";

/** The packet a trace follows (the inner one, as the pod sends it). */
export interface TracePacket {
  readonly src: string;
  readonly dst: string;
  readonly proto: TraceProto;
  /** TCP/UDP destination port. */
  readonly port?: number;
  /** IP total length in bytes; DF is always set. */
  readonly size: number;
}

/** An encapsulating header around the packet while it crosses the underlay. */
export type OuterHeader =
  | {
      readonly kind: "vxlan";
      readonly src: string;
      readonly dst: string;
      readonly port: number;
      readonly vni: number;
      /** Bytes the encapsulation adds. */
      readonly overhead: number;
    }
  | {
      /** IPIP (IP protocol 4) or GRE (47) straight in the outer IPv4 header. */
      readonly kind: "ipip" | "gre";
      readonly src: string;
      readonly dst: string;
      readonly overhead: number;
    };

/** An outer header as the capture decoded it. */
export type CapturedOuter =
  | { readonly src: string; readonly dst: string; readonly port: number; readonly vni: number }
  | { readonly src: string; readonly dst: string; readonly proto: "ipip" | "gre"; readonly key?: number };

/** What `ip -j route get` answered, or the kernel's error. */
export type RouteGet =
  | {
      readonly ok: true;
      readonly type: string;
      readonly dst: string;
      readonly dev: string;
      readonly gateway?: string;
      readonly prefsrc?: string;
      readonly flags: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

/** A route from the routing table that matched (for the "entry that decided it"). */
export interface RouteEntry {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
}

/** What one namespace's kernel says, gathered by trace-facts.ts for the packet at this position. */
export interface NsFacts {
  readonly ns: string;
  readonly route: RouteGet;
  /** The table entry behind the route the kernel chose (best effort: `ip route show match`). */
  readonly routeEntry?: RouteEntry;
  readonly links: readonly Link[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
  /** Bridge-mode source guard: guarded ports and what each may send from (node namespaces only). */
  readonly guard?: {
    readonly ports: readonly string[];
    readonly v4: Readonly<Record<string, readonly string[]>>;
    /** IPv6 sources each port may send from (absent in facts read before IPv6 was traced). */
    readonly v6?: Readonly<Record<string, readonly string[]>>;
  };
  /** Strata's masquerade table exists (node namespaces only). */
  readonly masquerade?: boolean;
}

/** Where the packet is: a namespace, how it entered it, and what is routed there. */
export interface Position {
  readonly ns: string;
  /**
   * The interface it arrived on, by name or by ifindex (a veth's peer names only the index);
   * undefined when the packet starts here.
   */
  readonly arrivedOn?: string | { readonly index: number };
  /** The address whose MAC the frame is addressed to (an L2 switch forwards by it). */
  readonly l2Dst?: string;
  readonly packet: TracePacket;
  readonly outer?: OuterHeader;
}

/** One predicted hop: where, which devices, the addresses, and the entry that decided it. */
export interface PredictedHop {
  readonly ns: string;
  /** The place as a person names it: a pod, a node, "underlay". */
  readonly place: string;
  readonly action: "send" | "forward" | "switch" | "encapsulate" | "decapsulate" | "deliver" | "stop";
  readonly inDev?: string;
  readonly outDev?: string;
  readonly src: string;
  readonly dst: string;
  readonly outer?: OuterHeader;
  /** The kernel entry that decided this hop (a route, a neighbour, an FDB entry, a rule). */
  readonly decidedBy: string;
  /** Devices where a capture in this namespace proves the hop (any of them). */
  readonly captureDevs: readonly string[];
  readonly stop?: StopReason;
}

/** A probe packet as captured in one namespace. */
export interface Sighting {
  readonly ns: string;
  readonly dev: string;
  readonly outgoing: boolean;
  /** The innermost IP header (IPv4 or IPv6) around the probe's payload. */
  readonly src: string;
  readonly dst: string;
  readonly outer?: CapturedOuter;
  /** Microseconds since the probe was sent. */
  readonly atUs: number;
}

export interface TraceHop extends PredictedHop {
  readonly seen: boolean;
  readonly sightings: readonly Sighting[];
}

export interface TraceReport {
  readonly from: string;
  /** SRC's own address (the packet's source differs when --src-ip forges one). */
  readonly fromAddress: string;
  readonly to: string;
  readonly packet: TracePacket;
  readonly model: string;
  readonly underlay: string;
  readonly hops: readonly TraceHop[];
  readonly delivered: boolean;
  readonly stop?: StopReason;
  readonly timings: { readonly predictMs: number; readonly proveMs: number; readonly totalMs: number };
}
