import { addressBytes, addressFromBytes } from "../../common/cidr.js";
import { BgpCodecError, BgpError, UpdateSubcode } from "./errors.js";

/** An IPv4 or IPv6 prefix in text form, e.g. "10.244.1.0/24" or "fd00::/64". */
export type Prefix = string;

/** An address of `family` as its 4 or 16 bytes; a text of the other family is refused. */
export function encodeAddress(addr: string, family: 4 | 6): Uint8Array {
  return Uint8Array.from(addressBytes(addr, family));
}

/** An address of `family` from exactly its 4 or 16 bytes (callers slice one address). */
export function decodeAddress(b: Uint8Array, family: 4 | 6): string {
  if (b.length !== (family === 4 ? 4 : 16))
    throw new RangeError(`an IPv${family} address needs ${family === 4 ? 4 : 16} bytes, got ${b.length}`);
  return addressFromBytes(b);
}

/** NLRI encoding (RFC 4271 §4.3): length in bits, then just enough octets. */
export function encodePrefixes(prefixes: readonly Prefix[], family: 4 | 6): Uint8Array {
  const out: number[] = [];
  for (const p of prefixes) {
    if (family === 4 && pushIpv4Prefix(out, p)) continue;
    const [addr = "", len = "0"] = p.split("/");
    const bits = Number(len);
    out.push(bits, ...addressBytes(addr, family).slice(0, Math.ceil(bits / 8)));
  }
  return Uint8Array.from(out);
}

/**
 * The common case without a parser's allocations: "a.b.c.d/len" straight to its NLRI octets.
 * Anything else (or anything malformed) returns false and takes the general path, which checks it.
 */
function pushIpv4Prefix(out: number[], p: string): boolean {
  const octets = [0, 0, 0, 0];
  let part = 0;
  let value = 0;
  let digits = 0;
  let i = 0;
  for (; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false; // a leading zero: the general parser's call
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 46 && part < 3 && digits > 0) {
      octets[part++] = value;
      value = 0;
      digits = 0;
    } else if (c === 47 && part === 3 && digits > 0) break;
    else return false;
  }
  if (i === p.length) return false;
  octets[3] = value;
  const bits = Number(p.slice(i + 1));
  const lengthDigits = p.length - i - 1;
  if (lengthDigits < 1 || lengthDigits > 2 || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  out.push(bits);
  for (let k = 0; k < Math.ceil(bits / 8); k++) out.push(octets[k] as number);
  return true;
}

/**
 * An IPv4 prefix's text from its NLRI octets, built as one flat string: it is the key of the
 * prefix in every table, so no rope of pieces (and no address object) is left behind per route.
 */
function ipv4PrefixText(b: Uint8Array, at: number, n: number, bits: number): string {
  const codes: number[] = [];
  for (let k = 0; k < 4; k++) {
    let v = k < n ? (b[at + k] as number) : 0;
    if (k === n - 1 && bits % 8 !== 0) v &= (0xff << (8 - (bits % 8))) & 0xff;
    if (k > 0) codes.push(46);
    if (v >= 100) codes.push(48 + Math.floor(v / 100));
    if (v >= 10) codes.push(48 + (Math.floor(v / 10) % 10));
    codes.push(48 + (v % 10));
  }
  codes.push(47);
  if (bits >= 10) codes.push(48 + Math.floor(bits / 10));
  codes.push(48 + (bits % 10));
  return String.fromCharCode(...codes);
}

/** Decode NLRI; a bad length is RFC 4271 3/10 (invalid network field). */
export function decodePrefixes(b: Uint8Array, family: 4 | 6): Prefix[] {
  const max = family === 4 ? 32 : 128;
  const out: Prefix[] = [];
  let i = 0;
  while (i < b.length) {
    const bits = b[i++] as number;
    const n = Math.ceil(bits / 8);
    if (bits > max || i + n > b.length) {
      throw new BgpCodecError(
        BgpError.Update,
        UpdateSubcode.InvalidNetworkField,
        `prefix length ${bits} is invalid for IPv${family}`,
        b.subarray(i - 1),
        "treat-as-withdraw",
      );
    }
    if (family === 4) {
      out.push(ipv4PrefixText(b, i, n, bits));
      i += n;
      continue;
    }
    const bytes = new Array(16).fill(0);
    for (let k = 0; k < n; k++) bytes[k] = b[i + k];
    // Bits past the prefix length must not be set in the address we report.
    if (bits % 8 !== 0 && n > 0) bytes[n - 1] &= (0xff << (8 - (bits % 8))) & 0xff;
    out.push(`${addressFromBytes(bytes)}/${bits}`);
    i += n;
  }
  return out;
}
