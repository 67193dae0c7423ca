import ipaddr from "ipaddr.js";
import type { TcpSessionQuery } from "./api.js";

/**
 * What both kernel drivers' TCP session reads share: an address written as inet_ntop (and so `ss`)
 * writes it, whichever way it was read, and the query's port checked before anything runs.
 */

/** The port of a query, checked: undefined (any port) or an integer 0..65535. */
export function queryPort(q: TcpSessionQuery): number | undefined {
  if (q.port === undefined) return undefined;
  if (!Number.isInteger(q.port) || q.port < 0 || q.port > 65535)
    throw new RangeError(`tcpSessions: port ${q.port} is not a TCP port (an integer 0..65535)`);
  return q.port;
}

/**
 * 4 or 16 octets as glibc's inet_ntop writes them: IPv6 with its longest run (of two or more) of
 * zero groups as "::", and the last 32 bits dotted for an IPv4-mapped (::ffff:a.b.c.d) or
 * IPv4-compatible (::a.b.c.d, not ::1 or ::) address.
 */
export function socketAddressText(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  if (b.length !== 16) throw new RangeError(`a socket address of ${b.length} octets`);
  const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i] as number) << 8) | (b[2 * i + 1] as number));
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff)))
    return best.len === 6 ? `::${v4}` : `::ffff:${v4}`;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      out += "::";
      i += best.len - 1;
      continue;
    }
    if (out !== "" && !out.endsWith(":")) out += ":";
    out += (words[i] as number).toString(16);
  }
  return out;
}

/** An address text (any valid spelling) as socketAddressText writes it; undefined when not one. */
export function canonicalSocketAddress(text: string): string | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text))
    return socketAddressText(Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()));
  if (!text.includes(":") || !ipaddr.IPv6.isValid(text)) return undefined;
  // ipaddr.js reads ::a.b.c.d as ::ffff:a.b.c.d; the URL parser's serialization has no dotted
  // part, so ipaddr.js reads that right.
  let hex: string;
  try {
    hex = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  return socketAddressText(Uint8Array.from(ipaddr.IPv6.parse(hex).toByteArray()));
}
