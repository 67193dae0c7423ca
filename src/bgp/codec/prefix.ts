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
    const [addr = "", len = "0"] = p.split("/");
    const bits = Number(len);
    out.push(bits, ...addressBytes(addr, family).slice(0, Math.ceil(bits / 8)));
  }
  return Uint8Array.from(out);
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
    const bytes = new Array(family === 4 ? 4 : 16).fill(0);
    for (let k = 0; k < n; k++) bytes[k] = b[i + k];
    // Bits past the prefix length must not be set in the address we report.
    if (bits % 8 !== 0 && n > 0) bytes[n - 1] &= (0xff << (8 - (bits % 8))) & 0xff;
    out.push(`${addressFromBytes(bytes)}/${bits}`);
    i += n;
  }
  return out;
}
