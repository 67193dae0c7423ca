import type { Logger } from "pino";
import type { NodeLease } from "../cluster/node-lease.js";
import type { Kernel, Netns, Route } from "../kernel/api.js";
import type { DesiredState } from "../kernel/desired/state.js";

/**
 * The desired kernel state a backend wants on a node (plain data, diffed against the kernel and
 * applied by the agent through kernel/desired), and the peers it cannot serve.
 */
export interface BackendDesiredState extends DesiredState {
  /** Peers the backend cannot serve, with the reason (e.g. host-gw across an L3 hop). */
  readonly unreachable: readonly { readonly node: string; readonly reason: string }[];
}

/** What a backend needs to know about the local node. */
export interface LocalNode {
  readonly lease: NodeLease;
  /** Name of the underlay interface. */
  readonly underlayDev: string;
  readonly underlayMtu: number;
  /**
   * Dual stack: the underlay device's global IPv6 address with its prefix length (the lease has
   * the address alone): the network an IPv6 next hop must be on to be routed to directly.
   */
  readonly underlayCidr6?: string;
}

/**
 * How pods attach to their node: on the node bridge `cni0` (Flannel's design), or routed: a /32
 * host route per pod on its own veth, no bridge (Calico's design).
 */
export type PodAttachment = "bridge" | "routed";

export interface Backend {
  readonly name: string;
  /**
   * How this backend's pods attach when the agent is not told otherwise (default "bridge"). The
   * ipip/gre backends route: a GSO packet the tc-BPF datapath decapsulated keeps its tunnel mark
   * on kernels before the DECAP_* adjust_room flags, and a bridge would cut it into MTU-sized
   * segments in software (bench/README.md: IPIP and GRE in the lab).
   */
  readonly podAttachment?: PodAttachment;
  /** Pod MTU on this backend: underlay MTU minus encapsulation overhead. */
  podMtu(underlayMtu: number): number;
  /** Data this node publishes with its lease (before the lease exists). */
  localBackendData(): Readonly<Record<string, string>>;
  /**
   * Desired state given this node and every other node's lease (and, for a backend with a control
   * plane of its own, the routes it holds now); no I/O.
   */
  desired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState;
  /**
   * Checks what the node's kernel offers and settles how the backend will work there, before the
   * agent leases anything (a tunnel backend picks its datapath: kernel device or tc-BPF). A
   * refusal is a StrataError saying what to change; the agent stops with it, nothing leased.
   */
  prepare?(host: BackendHost): Promise<void>;
  /**
   * State beyond DesiredState that the backend keeps in a datapath of its own (the tc-BPF tunnel's
   * programs and per-peer maps): brought in line with `peers` after each full pass has applied
   * desired(), by diff, so a repair pass restores it too. Nothing is removed when the agent stops:
   * traffic keeps flowing through a restart.
   */
  applyDatapath?(host: BackendHost, local: LocalNode, peers: readonly NodeLease[]): Promise<void>;
  /** Backends with a control plane of their own (BGP): start it; it calls ctx.onChange when routes change. */
  start?(ctx: BackendContext): Promise<void>;
  /**
   * A backend whose routes change by events (BGP UPDATEs) hands on what changed since it was last
   * asked: destination → the route wanted now (undefined: none). After onChange the agent plans
   * only these, without reading the kernel or asking desired(); its periodic and lease-driven
   * passes still diff desired() against the kernel.
   */
  takeRouteChanges?(): ReadonlyMap<string, Route | undefined>;
  /**
   * The set of other nodes changed (before desired() is asked). `alive`: the nodes whose agents
   * are known alive now (heartbeats), when known; the others may not answer yet.
   */
  peersChanged?(local: LocalNode, peers: readonly NodeLease[], alive?: ReadonlySet<string>): void;
  /**
   * These peers' agents are alive again (their heartbeat is back, or came for the first time after
   * their lease): whatever waits for them to answer can try now (the bgp backend dials them).
   */
  peersAlive?(peers: readonly NodeLease[]): void;
  /**
   * A backend with keys of its own (wireguard): make a new key pair, use it, and publish it with
   * the lease (through ctx.republish). `strata agent rotate-key` asks for this.
   */
  rotateKey?(): Promise<{ readonly publicKey: string; readonly previous: string }>;
  /** Backend-specific status for /healthz (e.g. BGP sessions). */
  status?(): Record<string, unknown>;
  stop?(): Promise<void>;
}

/** Where a backend acts: the kernel, the node's namespace (every kernel call names it), a logger. */
export interface BackendHost {
  readonly kernel: Kernel;
  readonly netns: Netns;
  readonly logger: Logger;
}

/** What a backend's start() gets: its node, where and how to act, and whom to tell of changes. */
export interface BackendContext extends BackendHost {
  readonly local: LocalNode;
  /** Aborted when the agent stops. */
  readonly signal: AbortSignal;
  /** The backend's desired state changed (e.g. BGP learned or lost a route). */
  readonly onChange: () => void;
  /**
   * localBackendData() changed (a rotated key): write it into this node's lease now. The agent
   * always gives it; a test that drives a backend alone may not.
   */
  readonly republish?: () => Promise<void>;
}
