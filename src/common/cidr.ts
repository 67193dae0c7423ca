import ipaddr from "ipaddr.js";
import { StrataError } from "./errors.js";

/**
 * IP address and CIDR math, IPv4 and IPv6, over ipaddr.js: the one place Strata parses, formats
 * and compares addresses (no hand-written dotted-quad parsing elsewhere).
 */

/** An address or CIDR that does not parse, naming what to write instead. */
export class InvalidAddressError extends StrataError {
  constructor(text: string, expected: string) {
    super("ip.invalid", `"${text}" is not ${expected}`);
  }
}

type Parsed = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * `fn`, remembered for the last `size` texts it was asked about (oldest forgotten first). The
 * texts are a cluster's subnets and node addresses, asked about again in every lease view and
 * per received route; ipaddr.js parses each with regular expressions every time.
 */
function rememberLast<T>(size: number, fn: (text: string) => T): (text: string) => T {
  const known = new Map<string, T>();
  return (text) => {
    if (known.has(text)) return known.get(text) as T;
    const v = fn(text);
    if (known.size >= size) known.delete(known.keys().next().value as string);
    known.set(text, v);
    return v;
  };
}

/**
 * ipaddr.parseCIDR, remembered. It tries IPv6 first and throws on every IPv4 text, which made CIDR
 * tests the largest part of an agent host's time (50 agents, each comparing every peer's subnet
 * per lease view: 4 of 16 busy seconds). The text picks the family; the last 4,096 texts parsed are
 * kept (a lab's subnets, peers and node addresses), frozen so no caller changes a shared one.
 */
const parsedCidrs = new Map<string, Readonly<Parsed>>();
const cidrCacheSize = 4096;
function parseCidrCached(cidr: string): Readonly<Parsed> {
  const hit = parsedCidrs.get(cidr);
  if (hit) return hit;
  const parsed = Object.freeze(
    cidr.includes(":") ? ipaddr.IPv6.parseCIDR(cidr) : ipaddr.IPv4.parseCIDR(cidr),
  ) as Readonly<Parsed>;
  if (parsedCidrs.size >= cidrCacheSize) parsedCidrs.delete(parsedCidrs.keys().next().value as string);
  parsedCidrs.set(cidr, parsed);
  return parsed;
}

/**
 * An address parsed, its family picked from the text (ipaddr.parse tries IPv6 first, throwing for
 * IPv4); undefined when it is not an address. Remembered like the CIDRs: the same next hops and
 * node addresses are asked about for every route at every lease change. Callers share the object
 * and must not change it.
 */
export const parseAddress = rememberLast(4096, (ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  if (ip.includes(":")) return ipaddr.IPv6.isValid(ip) ? ipaddr.IPv6.parse(ip) : undefined;
  return ipaddr.IPv4.isValid(ip) ? ipaddr.IPv4.parse(ip) : undefined;
});

/**
 * An address in canonical text (RFC 5952 for IPv6: "fd00::1" for "fd00:0::1"); other text as it
 * is. Remembered like parseAddress: an import policy is rebuilt from every lease at each lease
 * change, and ipaddr.js formats the address anew on each toString.
 */
export const canonicalAddress = rememberLast(
  4096,
  (ip: string): string => parseAddress(ip)?.toString() ?? ip,
);

/** An address parsed (as parseAddress), throwing ipaddr.js's error when it is not one. */
const parseIp = (ip: string): ipaddr.IPv4 | ipaddr.IPv6 =>
  parseAddress(ip) ?? (ip.includes(":") ? ipaddr.IPv6.parse(ip) : ipaddr.IPv4.parse(ip));

/** The address part of a CIDR in canonical text (10.1.2.7 for 10.1.2.7/24), from the parse cache. */
export function cidrHost(cidr: string): string {
  return parseCidrCached(cidr)[0].toString();
}

export function parseCidr(cidr: string): { addr: ipaddr.IPv4 | ipaddr.IPv6; prefix: number } {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  return { addr, prefix };
}

/** Is `ip` inside `network/prefix`? */
export function contains(network: string, ip: string): boolean {
  const [net, prefix] = parseCidrCached(network);
  const a = parseIp(ip);
  return a.kind() === net.kind() && a.match(net, prefix);
}

/** The network address of a CIDR, e.g. 10.1.2.0 for 10.1.2.7/24. */
export const networkAddress = rememberLast(4096, (cidr: string): string => {
  const [addr, prefix] = parseCidrCached(cidr);
  if (addr.kind() === "ipv4")
    return ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
  return ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
});

/**
 * Two CIDRs overlap when either contains the other's network address (the spans they cover
 * share an address); CIDRs of different families never do. Throws for a text that is not a CIDR.
 */
export function overlaps(a: string, b: string): boolean {
  const x = cidrSpan(a);
  const y = cidrSpan(b);
  if (typeof x.first !== typeof y.first) return false;
  return x.first <= y.last && y.first <= x.last;
}

/** A CIDR of either family as its span, from the parse cache (throws for anything else). */
const cidrSpan = rememberLast(4096, (cidr: string): Ipv4Span | Ipv6Span => {
  const [addr, prefix] = parseCidrCached(cidr);
  const span =
    addr.kind() === "ipv4"
      ? ipv4Span(`${addr.toString()}/${prefix}`)
      : ipv6Span(`${addr.toString()}/${prefix}`);
  if (!span) throw new InvalidAddressError(cidr, "a CIDR (e.g. 10.244.1.0/24)");
  return span;
});

/** Normalise "10.1.2.7/24" to "10.1.2.0/24". */
export function canonicalCidr(cidr: string): string {
  const [, prefix] = ipaddr.parseCIDR(cidr);
  return `${networkAddress(cidr)}/${prefix}`;
}

/**
 * Is `text` an IPv4 address in dotted-quad form: four decimal octets, no leading zeros (which
 * other tools read as octal), nothing else ipaddr.js would also accept ("10.1", hex)?
 */
export const isIpv4 = (text: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(text);

/**
 * A dotted-quad IPv4 address as an unsigned 32-bit number, to order addresses numerically (BGP
 * identifiers, RFC 4271 §9.1.2.2 f and §6.8; who dials whom in a mesh).
 */
export function ipv4ToNumber(ip: string): number {
  if (!isIpv4(ip)) throw new InvalidAddressError(ip, "an IPv4 address (four decimal octets, e.g. 10.0.0.1)");
  const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(ip).octets;
  return a * 2 ** 24 + b * 2 ** 16 + c * 2 ** 8 + d;
}

/** An unsigned 32-bit number as a dotted-quad IPv4 address (the inverse of ipv4ToNumber). */
export function numberToIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidAddressError(String(n), "an unsigned 32-bit number (0 to 4294967295)");
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * Numeric order of two addresses, IPv4 before IPv6 (RFC 4271 §9.1.2.2 g, "lowest peer address");
 * negative when `a` comes first.
 */
export function compareAddresses(a: string, b: string): number {
  const x = parseIp(a).toByteArray();
  const y = parseIp(b).toByteArray();
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The first and last address an IPv4 prefix covers, as unsigned 32-bit numbers. */
export interface Ipv4Span {
  readonly first: number;
  readonly last: number;
}

/**
 * An IPv4 prefix ("10.244.1.0/24"; host bits are ignored) as the span of addresses it covers,
 * for overlap checks that run once per received prefix against every lease; undefined for
 * anything that is not an IPv4 CIDR (IPv6, garbage).
 */
export const ipv4Span = rememberLast(4096, (prefix: string): Ipv4Span | undefined => {
  const slash = prefix.indexOf("/");
  const addr = prefix.slice(0, slash);
  const lenText = prefix.slice(slash + 1);
  if (slash < 0 || !/^\d{1,2}$/.test(lenText) || Number(lenText) > 32 || !isIpv4(addr)) return undefined;
  const size = 2 ** (32 - Number(lenText));
  const value = ipv4ToNumber(addr);
  const first = value - (value % size);
  return Object.freeze({ first, last: first + size - 1 });
});

/** The first and last address an IPv6 prefix covers, as 128-bit numbers. */
export interface Ipv6Span {
  readonly first: bigint;
  readonly last: bigint;
  /** The prefix written canonically (RFC 5952, host bits cleared): "fd00:10:244:1::/64". */
  readonly canonical: string;
}

/**
 * An IPv6 prefix ("fd00:10:244:1::/64"; host bits are ignored) as the span it covers, for the same
 * per-prefix overlap checks as ipv4Span; undefined for anything that is not an IPv6 CIDR.
 */
export const ipv6Span = rememberLast(4096, (prefix: string): Ipv6Span | undefined => {
  if (!ipaddr.IPv6.isValidCIDR(prefix)) return undefined;
  const [addr, len] = ipaddr.IPv6.parseCIDR(prefix);
  let value = 0n;
  for (const b of addr.toByteArray()) value = (value << 8n) | BigInt(b);
  const host = (1n << BigInt(128 - len)) - 1n;
  const first = value & ~host;
  const bytes = Array.from({ length: 16 }, (_, i) => Number((first >> BigInt(8 * (15 - i))) & 0xffn));
  return Object.freeze({
    first,
    last: first | host,
    canonical: `${ipaddr.fromByteArray(bytes).toString()}/${len}`,
  });
});

/** Do two spans share an address? (One prefix contains the other, or they are the same.) */
export const spansOverlap = <S extends Ipv4Span | Ipv6Span>(a: S, b: S): boolean =>
  a.first <= b.last && b.first <= a.last;

/**
 * An address's bytes in network order: 4 for IPv4, 16 for IPv6 (wire formats such as BGP's).
 * Throws when the text is not an address of that family.
 */
export function addressBytes(ip: string, family: 4 | 6): number[] {
  const ok = family === 4 ? isIpv4(ip) : ipaddr.IPv6.isValid(ip);
  if (!ok) throw new InvalidAddressError(ip, `an IPv${family} address`);
  return ipaddr.parse(ip).toByteArray();
}

/** An address from its 4 or 16 bytes, as text (IPv6 compressed as RFC 5952 says). */
export function addressFromBytes(bytes: ArrayLike<number>): string {
  if (bytes.length !== 4 && bytes.length !== 16)
    throw new InvalidAddressError(`${bytes.length} bytes`, "an address (4 bytes for IPv4, 16 for IPv6)");
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}
