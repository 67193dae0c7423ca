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
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  ensure(ns: Netns, config: BpfTunnelConfig): Promise<void>;
  syncPeers(
    ns: Netns,
    config: BpfTunnelConfig,
    peers: readonly TunnelPeer[],
  ): Promise<{ added: number; removed: number; changed: number }>;
  counters(ns: Netns, config: BpfTunnelConfig): Promise<BpfTunnelCounters>;
  remove(ns: Netns, config: BpfTunnelConfig): Promise<void>;
}
// createBpfTunnelDatapath(opts: { objectPath: string; kernel: Kernel }) comes with the datapath's
// own branch (this file is the interface only, so the backends compile before it is merged).
export type CreateBpfTunnelDatapath = (opts: { objectPath: string; kernel: Kernel }) => BpfTunnelDatapath;
