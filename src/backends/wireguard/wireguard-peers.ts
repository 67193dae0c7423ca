import type { NodeLease } from "../../cluster/node-lease.js";
import type { LocalNode } from "../api.js";
import type { WireguardDeviceState, WireguardPeer, WireguardPeerChange, WireguardSet } from "./uapi-codec.js";
import { isWireguardKey } from "./wireguard-key.js";

/** What a wireguard node publishes with its lease (lease-validation checks both). */
export const wgPublicKeyField = "wgPublicKey";
export const wgListenPortField = "wgListenPort";

/** WireGuard's default port, and the keepalive that keeps a NAT or conntrack entry open. */
export const defaultWireguardPort = 51820;
export const defaultKeepaliveSeconds = 25;

/** Outer IPv4 (20) + UDP (8) + WireGuard data header (16) + Poly1305 tag (16): pod MTU = underlay − 60. */
export const wireguardOverhead = 60;

/** Pure: the peer a lease asks for, or why that node cannot be a WireGuard peer. */
export function peerOfLease(
  lease: NodeLease,
  keepalive: number,
): { ok: true; peer: WireguardPeer } | { ok: false; reason: string } {
  const key = lease.backendData[wgPublicKeyField];
  if (key === undefined)
    return { ok: false, reason: `peer runs the ${lease.backend} backend and publishes no WireGuard key` };
  if (!isWireguardKey(key)) return { ok: false, reason: "peer's WireGuard key is malformed" };
  if (lease.subnet.includes(":") || lease.publicIp.includes(":"))
    return { ok: false, reason: `wireguard carries IPv4 only; ${lease.node} leased ${lease.subnet}` };
  const port = Number(lease.backendData[wgListenPortField] ?? defaultWireguardPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, reason: "peer's WireGuard port is not a port" };
  return {
    ok: true,
    peer: { publicKey: key, endpoint: `${lease.publicIp}:${port}`, allowedIps: [lease.subnet], keepalive },
  };
}

/**
 * Pure: every peer the node's device should have (one per other node: AllowedIPs its pod subnet,
 * endpoint its node address and port) and the nodes it cannot serve. Two leases with one key (a
 * copied key file) would fight over one WireGuard peer: the older lease (first in the validated
 * view) keeps it.
 */
export function desiredPeers(
  local: LocalNode,
  peers: readonly NodeLease[],
  ownPublicKey: string,
  keepalive: number,
): { peers: WireguardPeer[]; unreachable: { node: string; reason: string }[] } {
  const out: WireguardPeer[] = [];
  const unreachable: { node: string; reason: string }[] = [];
  const keys = new Map<string, string>([[ownPublicKey, local.lease.node]]);
  for (const lease of peers) {
    if (lease.node === local.lease.node) continue;
    const r = peerOfLease(lease, keepalive);
    if (!r.ok) {
      unreachable.push({ node: lease.node, reason: r.reason });
      continue;
    }
    const holder = keys.get(r.peer.publicKey);
    if (holder !== undefined) {
      unreachable.push({ node: lease.node, reason: `its WireGuard key is also node ${holder}'s` });
      continue;
    }
    keys.set(r.peer.publicKey, lease.node);
    out.push(r.peer);
  }
  return { peers: out, unreachable };
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");

/**
 * Pure: the set request that turns the device's `current` state into `want` — only what differs:
 * a private key or port that changed, peers added or reconfigured, peers no longer wanted removed
 * (nothing stale stays). Empty when the device is as wanted.
 */
export function planWireguardDevice(
  current: WireguardDeviceState,
  want: { privateKey: string; listenPort: number; peers: readonly WireguardPeer[] },
): WireguardSet {
  const have = new Map(current.peers.map((p) => [p.publicKey, p]));
  const wanted = new Set(want.peers.map((p) => p.publicKey));
  const changes: WireguardPeerChange[] = [];
  for (const p of want.peers) {
    const h = have.get(p.publicKey);
    if (h && h.endpoint === p.endpoint && h.keepalive === p.keepalive && sameSet(h.allowedIps, p.allowedIps))
      continue;
    changes.push(p);
  }
  // Removals after additions: a subnet that moves to a new key (rotation) is the new peer's at once.
  for (const h of current.peers)
    if (!wanted.has(h.publicKey)) changes.push({ publicKey: h.publicKey, remove: true });
  return {
    ...(current.privateKey !== want.privateKey ? { privateKey: want.privateKey } : {}),
    ...(current.listenPort !== want.listenPort ? { listenPort: want.listenPort } : {}),
    peers: changes,
  };
}
