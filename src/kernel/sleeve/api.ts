/**
 * The sleeve datapath: Strata's userspace fallback (Weave Net's "sleeve"), for kernels with TUN but
 * none of the tunnel modules and no BPF. Pod packets routed into a TUN device are carried in UDP
 * between nodes by a small native helper (`native/sleeve.c`, one process per node, supervised by
 * the agent); the wire format is described there. The sleeve backend and the ipip/gre backends'
 * fallback code against this interface; the implementation is `datapath.ts`.
 */
import type { Netns } from "../api.js";

/** The UDP port sleeve uses unless `--sleeve-port` says otherwise (Weave's sleeve port; 6784 is micro-BFD, RFC 7130). */
export const SLEEVE_DEFAULT_PORT = 6783;

/** Bytes per packet around a pod packet: outer IPv4 (20) + UDP (8) + the chunk header (8). */
export const SLEEVE_OVERHEAD = 36;

/** The TUN device every sleeve route points at. */
export const SLEEVE_DEVICE = "strata.sleeve";

/** How the helper moves packets; every switch exists to measure one step (bench/README.md). */
export interface SleeveFeatures {
  /** IFF_VNET_HDR + TUNSETOFFLOAD: the TUN gives and takes 64 KB TCP super-packets. */
  readonly offload: boolean;
  /** UDP_SEGMENT: one sendmsg per super-packet, the kernel cuts the datagrams. */
  readonly udpGso: boolean;
  /** UDP_GRO: one read returns many datagrams of one flow. */
  readonly udpGro: boolean;
  /** Packets per recvmmsg / sendmmsg (1 to 64). */
  readonly batch: number;
}

export const fastestSleeveFeatures: SleeveFeatures = { offload: true, udpGso: true, udpGro: true, batch: 32 };

export interface SleeveConfig {
  readonly tunDev: string;
  /** This node's underlay address: the UDP socket binds it, peers send to it. */
  readonly localIp: string;
  /** This node's pod subnet: decapsulated packets must be addressed inside it. */
  readonly localCidr: string;
  readonly port: number;
  /** The TUN device's MTU: the underlay MTU − SLEEVE_OVERHEAD. */
  readonly mtu: number;
  readonly features?: SleeveFeatures;
}

export interface SleevePeer {
  readonly node: string;
  readonly nodeIp: string;
  readonly podCidr: string;
  /** The peer's sleeve port (it publishes it with its lease). */
  readonly port: number;
}

/** Why packets were dropped; keys of `SleeveCounters.dropped`, named as the helper names them. */
export const SLEEVE_DROP_REASONS = [
  "unknown-outer-source",
  "inner-source-not-in-peer-cidr",
  "inner-destination-not-local",
  "malformed",
  "not-ipv4",
  "no-peer",
  "reassembly",
  "send-error",
  "tun-write-error",
] as const;
export type SleeveDropReason = (typeof SLEEVE_DROP_REASONS)[number];

export interface SleeveCounters {
  /** Packets taken from the TUN and sent (a 64 KB super-packet counts once). */
  readonly encapsulated: number;
  /** Packets written to the TUN. */
  readonly decapsulated: number;
  readonly datagramsOut: number;
  readonly datagramsIn: number;
  readonly dropped: Readonly<Record<SleeveDropReason, number>>;
}

/** What the helper process is doing now, for /healthz. */
export interface SleeveProcessStatus {
  readonly running: boolean;
  readonly pid?: number;
  /** What the helper could switch on here (it falls back step by step when the kernel refuses one). */
  readonly features?: SleeveFeatures;
  /** Times the helper was started again after it exited on its own. */
  readonly restarts: number;
  readonly lastExit?: string;
}

export interface SleeveDatapath {
  /** Can it run here: the helper is built and /dev/net/tun exists? reason when not. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /**
   * Start the helper in `ns` for `config` unless it runs with that config already (a changed config
   * restarts it). The TUN device must exist (the backend's desired state makes it). Idempotent.
   */
  ensure(ns: Netns, config: SleeveConfig): Promise<void>;
  /** Make the helper's peer table equal `peers` by diff (only changes sent); returns what changed. */
  syncPeers(peers: readonly SleevePeer[]): Promise<{ added: number; removed: number; changed: number }>;
  /** The helper's counters now; undefined while it is not running. */
  counters(): Promise<SleeveCounters | undefined>;
  status(): SleeveProcessStatus;
  /** End the helper (the agent stops). The TUN device and its routes stay. */
  stop(): Promise<void>;
}
