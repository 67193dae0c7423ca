import type { NodeLease } from "../cluster/node-lease.js";
import type { FdbEntry, KernelOp, LinkSpec, Neighbour, Route } from "../kernel/api.js";

/**
 * The desired kernel state a backend wants on a node, as plain data. The agent diffs it against
 * the kernel and applies only the difference (never a flush), so restarts and datastore outages
 * leave running traffic alone.
 */
export interface DesiredState {
  /** Devices the backend owns (created if absent; settings corrected). */
  readonly devices: readonly LinkSpec[];
  /** Addresses on owned devices: [device, cidr]. */
  readonly addresses: readonly (readonly [string, string])[];
  /** Routes to remote pod subnets. */
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
  /** Peers the backend cannot serve, with the reason (e.g. host-gw across an L3 hop). */
  readonly unreachable: readonly { readonly node: string; readonly reason: string }[];
}

/** What a backend needs to know about the local node. */
export interface LocalNode {
  readonly lease: NodeLease;
  /** Name of the underlay interface. */
  readonly underlayDev: string;
  readonly underlayMtu: number;
}

export interface Backend {
  readonly name: string;
  /** Pod MTU on this backend: underlay MTU minus encapsulation overhead. */
  podMtu(underlayMtu: number): number;
  /** Data this node publishes with its lease (before the lease exists). */
  localBackendData(): Readonly<Record<string, string>>;
  /**
   * Desired state given this node and every other node's lease (and, for a backend with a control
   * plane of its own, the routes it holds now); no I/O.
   */
  desired(local: LocalNode, peers: readonly NodeLease[]): DesiredState;
  /** Backends with a control plane of their own (BGP): start it; it calls back when routes change. */
  start?(local: LocalNode, onRoutesChanged: () => void): Promise<void>;
  /** The set of other nodes changed (before desired() is asked). */
  peersChanged?(local: LocalNode, peers: readonly NodeLease[]): void;
  /** Backend-specific status for /healthz (e.g. BGP sessions). */
  status?(): Record<string, unknown>;
  stop?(): Promise<void>;
}

export type { KernelOp };
