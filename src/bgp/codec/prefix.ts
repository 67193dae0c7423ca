import { BgpCodecError } from "./errors.js";

/** An IPv4 or IPv6 prefix in text form, e.g. "10.244.1.0/24" or "fd00::/64". */
export type Prefix = string;

function bytesOf(addr: string, family: 4 | 6): number[] {
  if (family === 4) return addr.split(".").map(Number);
  const [head = "", tail = ""] = addr.split("::");
  const parse = (s: string) => (s ? s.split(":").map((h) => Number.parseInt(h, 16)) : []);
  const h = parse(head);
  const t = addr.includes("::") ? parse(tail) : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
}

function textOf(bytes: number[], family: 4 | 6): string {
  if (family === 4) return bytes.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

export function encodeAddress(addr: string, family: 4 | 6): Uint8Array {
  return Uint8Array.from(bytesOf(addr, family));
}

export function decodeAddress(b: Uint8Array, family: 4 | 6): string {
  return textOf([...b], family);
}

/** NLRI encoding (RFC 4271 §4.3): length in bits, then just enough octets. */
export function encodePrefixes(prefixes: readonly Prefix[], family: 4 | 6): Uint8Array {
  const out: number[] = [];
  for (const p of prefixes) {
    const [addr = "", len = "0"] = p.split("/");
    const bits = Number(len);
    out.push(bits, ...bytesOf(addr, family).slice(0, Math.ceil(bits / 8)));
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
        3,
        10,
        `prefix length ${bits} is invalid for IPv${family}`,
        b.subarray(i - 1),
        "treat-as-withdraw",
      );
    }
    const bytes = new Array(family === 4 ? 4 : 16).fill(0);
    for (let k = 0; k < n; k++) bytes[k] = b[i + k];
    // Bits past the prefix length must not be set in the address we report.
    if (bits % 8 !== 0 && n > 0) bytes[n - 1] &= (0xff << (8 - (bits % 8))) & 0xff;
    out.push(`${textOf(bytes, family)}/${bits}`);
    i += n;
  }
  return out;
}
