/**
 * The peer maps' diff: what the maps hold now + the peers wanted → the map writes that make them
 * equal, and how many peers that adds, removes or changes. Pure (unit-tested without root); the
 * datapath reads the maps, plans, and applies the writes in one `bpftool batch`.
 *
 * Two maps per datapath (tunnel.bpf.c):
 *   peer_cidrs  LPM trie, pod CIDR → node address: egress, where to send a pod's packet;
 *   peer_nodes  hash, node address → pod CIDR: ingress, who may send us which inner sources.
 */
import { isIpv4, overlaps } from "../../common/cidr.js";
import type { TunnelPeer } from "./api.js";
import { BpfTunnelError } from "./errors.js";
import {
  type Bytes,
  canonicalIpv4Cidr,
  type DumpedEntry,
  decodeCidrKey,
  decodeIpv4,
  decodePeerNode,
  encodeCidrKey,
  encodeIpv4,
  encodePeerNode,
} from "./map-codec.js";
import type { PinnedMap } from "./pin-paths.js";

/** What the two peer maps hold, decoded. */
export interface PeerMapsState {
  /** peer_cidrs: pod CIDR → node address. */
  readonly cidrs: ReadonlyMap<string, string>;
  /** peer_nodes: node address → pod CIDR. */
  readonly nodes: ReadonlyMap<string, string>;
}

export type MapWrite =
  | { readonly op: "update"; readonly map: PinnedMap; readonly key: Bytes; readonly value: Bytes }
  | { readonly op: "delete"; readonly map: PinnedMap; readonly key: Bytes };

export interface PeerMapsPlan {
  readonly writes: readonly MapWrite[];
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

/** Decode the two maps' dumps (bpftool -j map dump) into a PeerMapsState. */
export function decodePeerMaps(cidrs: readonly DumpedEntry[], nodes: readonly DumpedEntry[]): PeerMapsState {
  return {
    cidrs: new Map(cidrs.map((e) => [decodeCidrKey(e.key), decodeIpv4(e.value ?? [])])),
    nodes: new Map(nodes.map((e) => [decodeIpv4(e.key), decodePeerNode(e.value ?? [])])),
  };
}

/**
 * Check the peers and give them as node address → canonical pod CIDR. A node address twice, or
 * two pod CIDRs that overlap, would make the maps ambiguous (which node owns 10.244.1.5?): refused.
 */
export function desiredPeerNodes(peers: readonly TunnelPeer[]): Map<string, string> {
  const nodes = new Map<string, string>();
  const owner = new Map<string, string>();
  for (const p of peers) {
    if (!isIpv4(p.nodeIp))
      throw new BpfTunnelError(
        "invalid-peers",
        `peer ${p.node}: nodeIp "${p.nodeIp}" is not an IPv4 address`,
      );
    const cidr = canonicalIpv4Cidr(p.podCidr, `peer ${p.node}: podCidr`).text;
    const prior = nodes.get(p.nodeIp);
    if (prior !== undefined)
      throw new BpfTunnelError(
        "invalid-peers",
        `peer ${p.node}: node address ${p.nodeIp} is already peer ${owner.get(p.nodeIp)}'s: give each node its own address`,
      );
    for (const [ip, other] of nodes)
      if (overlaps(other, cidr))
        throw new BpfTunnelError(
          "invalid-peers",
          `peer ${p.node}: pod CIDR ${cidr} overlaps ${other} of peer ${owner.get(ip)}: each pod CIDR belongs to one node`,
        );
    nodes.set(p.nodeIp, cidr);
    owner.set(p.nodeIp, p.node);
  }
  return nodes;
}

/**
 * The writes that turn `current` into `peers`. Updates come before deletes (a node that moves to
 * a new CIDR is reachable at the new one before the old goes); an entry already right is not
 * written. A peer counts as added (its address in neither map), removed (in a map, not wanted) or
 * changed (wanted and present, but some entry differs, including a stray LPM entry pointing at it).
 */
export function planPeerMaps(current: PeerMapsState, peers: readonly TunnelPeer[]): PeerMapsPlan {
  const wanted = desiredPeerNodes(peers);
  const wantedCidrs = new Map([...wanted].map(([ip, cidr]) => [cidr, ip]));
  const updates: MapWrite[] = [];
  const deletes: MapWrite[] = [];
  const touched = new Set<string>();

  for (const [ip, cidr] of wanted)
    if (current.nodes.get(ip) !== cidr) {
      updates.push({ op: "update", map: "peer_nodes", key: encodeIpv4(ip), value: encodePeerNode(cidr) });
      touched.add(ip);
    }
  for (const [cidr, ip] of wantedCidrs)
    if (current.cidrs.get(cidr) !== ip) {
      updates.push({ op: "update", map: "peer_cidrs", key: encodeCidrKey(cidr), value: encodeIpv4(ip) });
      touched.add(ip);
    }
  for (const [cidr, ip] of current.cidrs)
    if (!wantedCidrs.has(cidr)) {
      deletes.push({ op: "delete", map: "peer_cidrs", key: encodeCidrKey(cidr) });
      touched.add(ip);
    }
  for (const ip of current.nodes.keys())
    if (!wanted.has(ip)) {
      deletes.push({ op: "delete", map: "peer_nodes", key: encodeIpv4(ip) });
      touched.add(ip);
    }

  const present = new Set([...current.nodes.keys(), ...current.cidrs.values()]);
  let added = 0;
  let removed = 0;
  let changed = 0;
  for (const ip of touched) {
    if (!present.has(ip)) added++;
    else if (!wanted.has(ip)) removed++;
    else changed++;
  }
  return { writes: [...updates, ...deletes], added, removed, changed };
}
