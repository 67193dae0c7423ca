/**
 * The tc-BPF tunnel datapath: IPIP and GRE with the standard wire formats on a kernel that lacks
 * the ipip/gre modules. The `ipip` and `gre` backends code against exactly this interface; the
 * implementation is `datapath.ts` (tc + bpftool), the program `tunnel.bpf.c`.
 */
import type { Kernel, Netns } from "../api.js";

export type TunnelProto = "ipip" | "gre";

export interface BpfTunnelConfig {
  readonly proto: TunnelProto;
  readonly greKey?: number; // GRE only; omitted: no key
  readonly tunnelDev: string; // the TUN device routes point at, e.g. "strata.ipip" (created by ensure if absent)
  readonly underlayDev: string; // e.g. "eth0"
  readonly localIp: string; // outer source, this node's underlay address
  readonly mtu: number; // the tunnel device's MTU
}

export interface TunnelPeer {
  readonly node: string;
  readonly nodeIp: string;
  readonly podCidr: string;
}

export interface BpfTunnelCounters {
  readonly encapsulated: number;
  readonly decapsulated: number;
  readonly dropped: Readonly<Record<string, number>>;
}

export interface BpfTunnelDatapath {
  /** Is the datapath usable here (object built, BPF and tc available)? reason when not. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Attach programs and maps in `ns` for `config` (idempotent; re-uses pinned state after a restart). */
  ensure(ns: Netns, config: BpfTunnelConfig): Promise<void>;
  /** Make the peer maps equal `peers` by diff (only changes written); returns what changed. */
  syncPeers(
    ns: Netns,
    config: BpfTunnelConfig,
    peers: readonly TunnelPeer[],
  ): Promise<{ added: number; removed: number; changed: number }>;
  counters(ns: Netns, config: BpfTunnelConfig): Promise<BpfTunnelCounters>;
  /** Detach and unpin everything of this config in `ns`. */
  remove(ns: Netns, config: BpfTunnelConfig): Promise<void>;
}

export type CreateBpfTunnelDatapath = (opts: { objectPath: string; kernel: Kernel }) => BpfTunnelDatapath;

/** Outer header bytes per packet: what the backend subtracts from the underlay MTU. */
export function tunnelOverhead(proto: TunnelProto, greKey?: number): number {
  if (proto === "ipip") return 20; // RFC 2003: one IPv4 header
  return greKey === undefined ? 24 : 28; // RFC 2784 base header 4 B; RFC 2890 key +4 B
}

/**
 * Why tunnel packets were dropped, in the order of the program's counter slots (after
 * `encapsulated` and `decapsulated`). Keys of `BpfTunnelCounters.dropped`.
 */
export const DROP_REASONS = [
  "unknown-outer-source",
  "inner-source-not-in-peer-cidr",
  "malformed",
  "gre-key-or-flags",
  "no-peer",
  "not-ipv4",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export { createBpfTunnelDatapath } from "./datapath.js";
export { builtTunnelObjectPath } from "./object-path.js";
