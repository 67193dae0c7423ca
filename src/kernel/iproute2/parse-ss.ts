import type { TcpEnd, TcpSession } from "../api.js";
import { canonicalSocketAddress } from "../tcp-sessions.js";

/** `ss` printed something this parser does not read as a connection. */
export class SsParseError extends Error {}

/** `ADDR:PORT`, `[ADDR6]:PORT`, either with `%DEV` before the port (a socket bound to a device). */
function end(text: string, line: string): { end: TcpEnd; v6: boolean } {
  const m = /^(?:\[([^\]]+)\]|([^[\]%]+))(?:%[^:]*)?:(\d+)$/.exec(text);
  const address = m ? canonicalSocketAddress((m[1] ?? m[2]) as string) : undefined;
  if (!m || address === undefined)
    throw new SsParseError(`ss: no address:port in "${text}" (line "${line}")`);
  return { end: { address, port: Number(m[3]) }, v6: m[1] !== undefined };
}

/**
 * `ss -Htn state established [FILTER]` output (no header; with one state there is no State
 * column: Recv-Q Send-Q Local Peer), one session a line, in ss's order. Addresses are written as
 * socketAddressText writes them, so both drivers' answers compare as they are.
 */
export function parseSsTcp(text: string): TcpSession[] {
  const out: TcpSession[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === "") continue;
    if (fields.length < 4) throw new SsParseError(`ss: a line of ${fields.length} fields: "${line}"`);
    const local = end(fields[2] as string, line);
    const remote = end(fields[3] as string, line);
    out.push({ family: local.v6 ? 6 : 4, local: local.end, remote: remote.end });
  }
  return out;
}
