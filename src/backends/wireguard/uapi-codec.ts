import { StrataError } from "../../common/errors.js";
import { keyFromHex, keyToHex } from "./wireguard-key.js";

/**
 * WireGuard's cross-platform UAPI (wireguard.com/xplatform): `get=1` and `set=1` requests of
 * `key=value` lines ended by an empty line, keys in lowercase hex. This file is the pure codec;
 * uapi-client.ts does the socket I/O. Keys are base64 everywhere else in Strata (as `wg` prints
 * them) and converted here.
 */

/** A peer as Strata wants it: who (public key), where (endpoint), which inner sources (allowed IPs). */
export interface WireguardPeer {
  readonly publicKey: string;
  /** ip:port; absent: learnt from the peer's first packet. */
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  /** Persistent keepalive, seconds; 0 is off. */
  readonly keepalive: number;
}

/** A peer as the device reports it (get=1). */
export interface WireguardPeerState extends WireguardPeer {
  /** Seconds since the epoch of the last completed handshake; 0: none yet. */
  readonly lastHandshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface WireguardDeviceState {
  /** base64; absent until one is set. */
  readonly privateKey?: string;
  readonly listenPort?: number;
  readonly peers: readonly WireguardPeerState[];
}

/** One peer's change in a set request: removed, or (re)configured with exactly these settings. */
export type WireguardPeerChange =
  | { readonly publicKey: string; readonly remove: true }
  | (WireguardPeer & { readonly remove?: false });

/** A set=1 request: device settings that change, and the peers that change (others stay untouched). */
export interface WireguardSet {
  readonly privateKey?: string;
  readonly listenPort?: number;
  readonly peers: readonly WireguardPeerChange[];
}

export const isEmptySet = (s: WireguardSet): boolean =>
  s.privateKey === undefined && s.listenPort === undefined && s.peers.length === 0;

/** A UAPI answer that cannot be read, or one that reports an error (errno ≠ 0). */
export class UapiError extends StrataError {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super("backend.wireguard-uapi", message);
  }
}

const ipPort = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;
const cidr = /^([0-9.]+\/\d{1,2}|[0-9a-fA-F:.]+\/\d{1,3})$/;
const hexKey = /^[0-9a-f]{64}$/;

/** Refuses a value that would break the line protocol or that the device would misread. */
function checked(name: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new UapiError(`UAPI ${name} "${value.slice(0, 80)}" is malformed`);
  return value;
}

/** Pure: the text of a set=1 request (ending with the empty line). */
export function encodeSet(s: WireguardSet): string {
  const lines = ["set=1"];
  if (s.privateKey !== undefined) lines.push(`private_key=${checked("key", keyToHex(s.privateKey), hexKey)}`);
  if (s.listenPort !== undefined) {
    if (!Number.isInteger(s.listenPort) || s.listenPort < 0 || s.listenPort > 65535)
      throw new UapiError(`UAPI listen_port ${s.listenPort} is not a port`);
    lines.push(`listen_port=${s.listenPort}`);
  }
  for (const p of s.peers) {
    lines.push(`public_key=${checked("key", keyToHex(p.publicKey), hexKey)}`);
    if (p.remove) {
      lines.push("remove=true");
      continue;
    }
    if (p.endpoint !== undefined) lines.push(`endpoint=${checked("endpoint", p.endpoint, ipPort)}`);
    if (!Number.isInteger(p.keepalive) || p.keepalive < 0 || p.keepalive > 65535)
      throw new UapiError(`UAPI persistent_keepalive_interval ${p.keepalive} is out of range`);
    lines.push(`persistent_keepalive_interval=${p.keepalive}`);
    // The allowed IPs given are the whole set: anything the peer had before is dropped.
    lines.push("replace_allowed_ips=true");
    for (const a of p.allowedIps) lines.push(`allowed_ip=${checked("allowed_ip", a, cidr)}`);
  }
  return `${lines.join("\n")}\n\n`;
}

/** Pure: the text of a get=1 request. */
export const encodeGet = (): string => "get=1\n\n";

/** Pure: the errno of an answer (`errno=N` line); a missing one is a UapiError. */
export function parseErrno(text: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n/.exec(text);
  if (!m) throw new UapiError(`UAPI answer has no errno line: "${text.slice(0, 80)}"`);
  return Number(m[1]);
}

/** Pure: a get=1 answer into the device's state; an answer with errno ≠ 0 is a UapiError. */
export function parseGet(text: string): WireguardDeviceState {
  const errno = parseErrno(text);
  if (errno !== 0) throw new UapiError(`UAPI get failed: errno ${errno}`, errno);
  let privateKey: string | undefined;
  let listenPort: number | undefined;
  const peers: WireguardPeerState[] = [];
  type Building = {
    publicKey: string;
    endpoint?: string;
    allowedIps: string[];
    keepalive: number;
    lastHandshake: number;
    rxBytes: number;
    txBytes: number;
  };
  let peer: Building | undefined;
  const int = (k: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new UapiError(`UAPI ${k}="${v.slice(0, 40)}" is not a number`);
    return Number(v);
  };
  for (const line of text.split("\n")) {
    if (line === "") break;
    const eq = line.indexOf("=");
    if (eq < 1) throw new UapiError(`UAPI line "${line.slice(0, 80)}" is not key=value`);
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === "errno") break;
    if (k === "public_key") {
      if (peer) peers.push(peer);
      peer = {
        publicKey: keyFromHex(checked("public_key", v, hexKey)),
        allowedIps: [],
        keepalive: 0,
        lastHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
      };
      continue;
    }
    if (!peer) {
      if (k === "private_key") privateKey = keyFromHex(checked("private_key", v, hexKey));
      else if (k === "listen_port") listenPort = int(k, v);
      // fwmark and keys a newer implementation adds are not Strata's concern.
      continue;
    }
    if (k === "endpoint") peer.endpoint = v;
    else if (k === "allowed_ip") peer.allowedIps.push(v);
    else if (k === "persistent_keepalive_interval") peer.keepalive = int(k, v);
    else if (k === "last_handshake_time_sec") peer.lastHandshake = int(k, v);
    else if (k === "rx_bytes") peer.rxBytes = int(k, v);
    else if (k === "tx_bytes") peer.txBytes = int(k, v);
  }
  if (peer) peers.push(peer);
  return {
    ...(privateKey ? { privateKey } : {}),
    ...(listenPort !== undefined ? { listenPort } : {}),
    peers,
  };
}

/**
 * Pure: one whole answer's length in a stream of bytes read so far (the answer ends with an
 * empty line after its errno), or undefined while it is incomplete.
 */
export function answerLength(text: string): number | undefined {
  const m = /(?:^|\n)errno=-?\d+\n\n/.exec(text);
  return m ? m.index + m[0].length : undefined;
}
