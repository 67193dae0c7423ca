import type { SessionStatus } from "../bgp/speaker/speaker.js";
import type { RejectedLease } from "../cluster/lease-validation.js";
import type { NodeLease } from "../cluster/node-lease.js";
import type { Address, FdbEntry, Link, Neighbour, Route } from "../kernel/api.js";
import type { SpoofCounts } from "../plugins/strata/source-guard-plan.js";

/** What the agent's /healthz said (the agent's ClusterStatus plus its verdict), as far as doctor reads it. */
export interface AgentHealthBody {
  readonly ok?: boolean;
  readonly problems?: readonly string[];
  readonly node?: string;
  readonly model?: string;
  readonly subnet?: string;
  /** Dual stack: the node's IPv6 pod subnet. */
  readonly subnet6?: string;
  readonly podMtu?: number;
  readonly resyncSeconds?: number;
  readonly lastReconcile?: { readonly ok: boolean; readonly at: string; readonly error?: string };
  readonly lease?: { readonly ttlSeconds: number; readonly renewedAt: string };
  readonly backend?: {
    readonly bgpSessions?: readonly SessionStatus[];
    readonly bgpLocalAddress?: string;
    readonly bgpAsn?: number;
    /** ipip/gre: where this node encapsulates, why, and what the tunnel adds to each packet. */
    readonly datapath?: "kernel" | "bpf";
    readonly datapathReason?: string;
    readonly tunnelDevice?: string;
    readonly overhead?: number;
    /** tc-BPF: the peer map's last sync (how many peers it holds). */
    readonly peerMapSync?: { readonly peers: number; readonly at: string };
  };
}

export interface AgentFacts {
  /** undefined: nothing answered on the health port. */
  readonly httpStatus?: number;
  readonly health?: AgentHealthBody;
  /** Why nothing answered (connection refused, timeout). */
  readonly error?: string;
  readonly port: number;
}

/** The route the kernel chooses for an address (`ip route get`). */
export interface RouteLookup {
  readonly dst: string;
  /** undefined: no route ("Network is unreachable"). */
  readonly dev?: string;
  readonly via?: string;
  readonly error?: string;
}

export interface KernelFacts {
  readonly release: string;
  readonly links: readonly Link[];
  readonly addresses: readonly Address[];
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
  /** net.ipv4.conf.<name>.rp_filter for "all" and each device doctor looks at. */
  readonly rpFilter: Readonly<Record<string, number>>;
  /** `ip route get` for each peer's underlay address and each peer pod subnet's first address. */
  readonly lookups: readonly RouteLookup[];
  /** `ethtool -k DEV`: feature → on, for the VXLAN device and the underlay; undefined: not read. */
  readonly offload?: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
  readonly offloadError?: string;
}

/** One IPAM reservation in the node's state directory and the host veth its pod would have. */
export interface IpamReservation {
  readonly ip: string;
  readonly containerId: string;
  readonly ifName: string;
  readonly hostVeth: string;
}

export interface StateDirFacts {
  readonly dir: string;
  /** subnet.json */
  readonly subnet?: {
    readonly subnet: string;
    readonly mtu: number;
    readonly clusterCidr?: string;
    /** Dual stack: the node's IPv6 pod subnet and the cluster's IPv6 CIDR. */
    readonly subnet6?: string;
    readonly clusterCidr6?: string;
  };
  /** The MTU the CNI conflist gives pods. */
  readonly conflistMtu?: number;
  readonly reservations: readonly IpamReservation[];
  readonly errors: readonly string[];
}

export interface ClusterFacts {
  readonly leases: readonly NodeLease[];
  readonly rejected: readonly RejectedLease[];
}

/** A DF ping from this node: did SIZE bytes (IP packet) pass, and the largest that did when not. */
export interface Probe {
  readonly kind: "underlay" | "overlay";
  readonly peer: string;
  readonly to: string;
  /** IP packet size in bytes (ICMP payload + 28). */
  readonly size: number;
  readonly ok: boolean;
  /** Not ok: the largest size that passed (0: none did, not even a small packet without DF). */
  readonly largest?: number;
}

/**
 * The source guard's drop counters read twice, at the start of gathering and after the probes:
 * what rose in between is forging going on now; the totals are history.
 */
export interface SourceGuardFacts {
  readonly before?: SpoofCounts;
  readonly after?: SpoofCounts;
  readonly seconds: number;
  readonly error?: string;
}

/** Everything doctor knows about one node; the checks read only this. */
export interface NodeFacts {
  readonly node: string;
  readonly nowMs: number;
  readonly underlayDev: string;
  readonly agent: AgentFacts;
  readonly kernel: KernelFacts;
  readonly stateDir?: StateDirFacts;
  /** undefined: no --datastore given. */
  readonly cluster?: ClusterFacts;
  readonly clusterError?: string;
  readonly probes: readonly Probe[];
  /** undefined: not read (older facts, or a caller that does not gather it). */
  readonly sourceGuard?: SourceGuardFacts;
}
