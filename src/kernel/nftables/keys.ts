/**
 * Set keys and their datatypes as nf_tables stores them (pure). A concatenation's parts each start
 * on a 4-octet boundary, as they sit in consecutive 32-bit registers; its type is the parts' nft
 * datatype ids packed 6 bits apart (nft's concat_subtype_add).
 */
import { addressBytes } from "../rtnetlink/codec.js";

/** nft's datatype ids (src/datatype.h, enum datatypes) used here. */
export const nftType = { ipv4Addr: 7, ipv6Addr: 8, icmpv6Type: 29, ifname: 41 } as const;

/** IFNAMSIZ: an interface name key is 16 octets, NUL-padded. */
export const ifnameLen = 16;

export class SetKeyError extends Error {}

/** An interface name as a key (16 octets); a name the kernel could not hold is an error. */
export function ifnameKey(name: string): Buffer {
  const raw = Buffer.from(name, "utf8");
  if (raw.length === 0 || raw.length >= ifnameLen || raw.includes(0))
    throw new SetKeyError(`"${name}" is not an interface name (1-15 octets, no NUL)`);
  const out = Buffer.alloc(ifnameLen);
  raw.copy(out);
  return out;
}

/** An IPv4 or IPv6 address of the given family as a key (4 or 16 octets). */
export function addressKey(text: string, family: "ipv4" | "ipv6"): Buffer {
  const b = addressBytes(text);
  if (!b || b.length !== (family === "ipv4" ? 4 : 16))
    throw new SetKeyError(`"${text}" is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address`);
  return b;
}

const pad4 = (b: Uint8Array) => {
  const out = Buffer.alloc((b.length + 3) & ~3);
  out.set(b);
  return out;
};

/** `a . b . ...`: each part padded to 4 octets. */
export const concatKey = (...parts: readonly Uint8Array[]): Buffer => Buffer.concat(parts.map(pad4));

/** The datatype of a concatenation of these types. */
export const concatType = (...types: readonly number[]): number =>
  types.reduce((acc, t) => (acc << 6) | t, 0);
