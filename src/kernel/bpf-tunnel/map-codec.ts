/**
 * The byte layouts of tunnel.bpf.c's maps (keep in step with its structs), and bpftool's JSON
 * dump format. Pure: bytes in, typed values out and back. Multi-byte integers that the program
 * reads as host integers (prefix length, ifindex, counters) are little-endian: the BPF target
 * has the host's byte order, and Strata runs on x86-64 and arm64.
 */
import { addressBytes, addressFromBytes, ipv4Span, numberToIpv4 } from "../../common/cidr.js";
import type { TunnelProto } from "./api.js";
import { BpfTunnelError } from "./errors.js";

export type Bytes = readonly number[];

const le32 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const readLe32 = (b: Bytes, at: number): number =>
  ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** A pod CIDR in canonical form (host bits cleared), or a typed error naming the bad text. */
export function canonicalIpv4Cidr(cidr: string, what: string): { net: string; prefix: number; text: string } {
  const span = ipv4Span(cidr);
  if (!span)
    throw new BpfTunnelError("invalid-peers", `${what}: "${cidr}" is not an IPv4 CIDR (e.g. 10.244.1.0/24)`);
  const prefix = Number(cidr.slice(cidr.indexOf("/") + 1));
  const net = numberToIpv4(span.first);
  return { net, prefix, text: `${net}/${prefix}` };
}

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** peer_cidrs key: struct cidr_key { __u32 prefixlen; __be32 addr; } (the LPM trie's layout). */
export function encodeCidrKey(cidr: string): Bytes {
  const { net, prefix } = canonicalIpv4Cidr(cidr, "pod CIDR");
  return [...le32(prefix), ...addressBytes(net, 4)];
}
export function decodeCidrKey(b: Bytes): string {
  return `${addressFromBytes(b.slice(4, 8))}/${readLe32(b, 0)}`;
}

/** peer_cidrs value and peer_nodes key: a node's underlay address, network order. */
export const encodeIpv4 = (ip: string): Bytes => addressBytes(ip, 4);
export const decodeIpv4 = (b: Bytes): string => addressFromBytes(b.slice(0, 4));

/** peer_nodes value: struct peer_node { __be32 pod_net; __be32 pod_mask; }. */
export function encodePeerNode(podCidr: string): Bytes {
  const { net, prefix } = canonicalIpv4Cidr(podCidr, "pod CIDR");
  return [...addressBytes(net, 4), ...be32(maskOf(prefix))];
}
export function decodePeerNode(b: Bytes): string {
  const mask = ((b[4] ?? 0) * 2 ** 24 + ((b[5] ?? 0) << 16) + ((b[6] ?? 0) << 8) + (b[7] ?? 0)) >>> 0;
  let prefix = 0;
  while (prefix < 32 && ((mask << prefix) & 0x80000000) !== 0) prefix++;
  return `${addressFromBytes(b.slice(0, 4))}/${prefix}`;
}

export const IPPROTO_IPIP = 4;
export const IPPROTO_GRE = 47;

export interface ConfigValue {
  readonly localIp: string;
  readonly underlayIfindex: number;
  readonly tunnelIfindex: number;
  readonly proto: TunnelProto;
  readonly greKey?: number;
}

/** config value: struct tunnel_config (20 bytes). */
export function encodeConfig(c: ConfigValue): Bytes {
  const hasKey = c.proto === "gre" && c.greKey !== undefined;
  return [
    ...addressBytes(c.localIp, 4),
    ...le32(c.underlayIfindex),
    ...le32(c.tunnelIfindex),
    c.proto === "ipip" ? IPPROTO_IPIP : IPPROTO_GRE,
    hasKey ? 1 : 0,
    0,
    0,
    ...be32(hasKey ? (c.greKey ?? 0) : 0),
  ];
}

/** Counter slots of the program (enum counter), by the names counters() reports. */
export const COUNTER_SLOTS = [
  "encapsulated",
  "decapsulated",
  "unknown-outer-source",
  "inner-source-not-in-peer-cidr",
  "malformed",
  "gre-key-or-flags",
  "no-peer",
  "not-ipv4",
] as const;

/** One map entry as bpftool prints it with -j: bytes as "0x0a" strings; per-CPU maps give `values`. */
export interface DumpedEntry {
  readonly key: Bytes;
  readonly value?: Bytes;
  readonly values?: readonly Bytes[];
}

const hexBytes = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v)) throw new BpfTunnelError("failed", `bpftool map dump: ${what} is not a byte list`);
  return v.map((x) => {
    const n = typeof x === "string" ? Number.parseInt(x, 16) : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n > 255)
      throw new BpfTunnelError("failed", `bpftool map dump: ${what} has a bad byte ${JSON.stringify(x)}`);
    return n;
  });
};

/** Parse `bpftool -j map dump` output. */
export function parseMapDump(json: string): DumpedEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new BpfTunnelError("failed", `bpftool map dump: output is not JSON: ${json.slice(0, 120)}`, {
      cause: err,
    });
  }
  if (!Array.isArray(data)) throw new BpfTunnelError("failed", "bpftool map dump: expected a JSON array");
  return data.map((e: { key?: unknown; value?: unknown; values?: { value?: unknown }[] }) => ({
    key: hexBytes(e.key, "key"),
    ...(e.value !== undefined ? { value: hexBytes(e.value, "value") } : {}),
    ...(Array.isArray(e.values) ? { values: e.values.map((v) => hexBytes(v.value, "per-CPU value")) } : {}),
  }));
}

/** Sum a per-CPU u64 slot over every CPU (little-endian bytes). */
export function sumPerCpu(values: readonly Bytes[]): number {
  let total = 0n;
  for (const v of values) {
    let n = 0n;
    for (let i = 7; i >= 0; i--) n = n * 256n + BigInt(v[i] ?? 0);
    total += n;
  }
  return Number(total);
}

/** bpftool's "hex aa bb" form of a byte list, for batch lines. */
export const hexArg = (b: Bytes): string => `hex ${b.map((x) => x.toString(16).padStart(2, "0")).join(" ")}`;
