import type { NextHop, Route } from "../api.js";
import {
  addressText,
  af,
  cString,
  iflaIfname,
  NetlinkDecodeError,
  parseAttrs,
  rta,
  rtaxMtu,
  rtm,
  rtmCloned,
  rtnhOnlink,
  splitMessages,
} from "./codec.js";
import { protocolText } from "./names.js";

/**
 * Pure decoders of rtnetlink dumps into the kernel API's types, giving what the iproute2 driver's
 * parsers give for the same kernel state (`ip -json route show`, src/kernel/iproute2/parse.ts):
 * the driver tests hold both to that, on the same namespace.
 */

/** Interface names by index, from an RTM_GETLINK dump. */
export function decodeLinkNames(dump: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of splitMessages(dump)) {
    if (m.type !== 16 || m.body.length < 16) continue; // RTM_NEWLINK
    const index = m.body.readInt32LE(4);
    const name = parseAttrs(m.body, 16).get(iflaIfname);
    if (name) out.set(index, cString(name));
  }
  return out;
}

const u32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);

/** RTA_VIA: a family (u16) and an address of that family. */
function viaText(b: Buffer | undefined): string | undefined {
  if (!b || b.length < 2) return undefined;
  return addressText(b.subarray(2));
}

function nexthops(b: Buffer, names: ReadonlyMap<number, string>): NextHop[] {
  const out: NextHop[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 8 || off + len > b.length)
      throw new NetlinkDecodeError(`next hop at ${off} claims ${len} octets`);
    const flags = b.readUInt8(off + 2);
    const hops = b.readUInt8(off + 3);
    const ifindex = b.readInt32LE(off + 4);
    const a = parseAttrs(b.subarray(off, off + len), 8);
    const gw = a.get(rta.gateway);
    out.push({
      via: gw ? addressText(gw) : undefined,
      dev: ifindex ? names.get(ifindex) : undefined,
      weight: hops + 1,
      onlink: (flags & rtnhOnlink) !== 0 || undefined,
    });
    off += (len + 3) & ~3;
  }
  return out;
}

export interface RouteFilter {
  /** Table id; "all" keeps every table and names those other than main. Main when absent. */
  readonly table?: number | "all";
  /** Only routes out of this device (as `ip route show dev X`). */
  readonly dev?: string;
}

/** The routes of an RTM_GETROUTE dump, filtered as `ip route show [table T] [dev D]` filters. */
export function decodeRoutes(
  dump: Buffer,
  names: ReadonlyMap<number, string>,
  filter: RouteFilter = {},
): Route[] {
  const wantTable = filter.table ?? 254;
  const out: Route[] = [];
  for (const m of splitMessages(dump)) {
    if (m.type !== rtm.newRoute || m.body.length < 12) continue;
    const b = m.body;
    const family = b.readUInt8(0);
    if (family !== af.inet && family !== af.inet6) continue;
    const dstLen = b.readUInt8(1);
    const protocol = b.readUInt8(5);
    const scope = b.readUInt8(6);
    const flags = b.readUInt32LE(8);
    if (flags & rtmCloned) continue;
    const a = parseAttrs(b, 12);
    const table = u32(a.get(rta.table)) ?? b.readUInt8(4);
    if (wantTable !== "all" && table !== wantTable) continue;
    const oif = u32(a.get(rta.oif));
    const dev = oif !== undefined ? names.get(oif) : undefined;
    if (filter.dev !== undefined && dev !== filter.dev) continue;
    const dst = a.get(rta.dst);
    const metrics = a.get(rta.metrics);
    const mtu = metrics ? u32(parseAttrs(metrics, 0).get(rtaxMtu)) : undefined;
    const multipath = a.get(rta.multipath);
    const gw = a.get(rta.gateway);
    const src = a.get(rta.prefsrc);
    out.push({
      dst: dstLen === 0 || !dst ? "default" : `${addressText(dst)}/${dstLen}`,
      via: gw ? addressText(gw) : viaText(a.get(rta.via)),
      dev,
      onlink: (flags & rtnhOnlink) !== 0 || undefined,
      scope: scope === 253 ? "link" : scope === 254 ? "host" : undefined,
      table: wantTable === "all" && table !== 254 ? table : undefined,
      metric: u32(a.get(rta.priority)),
      src: src ? addressText(src) : undefined,
      proto: protocolText(protocol),
      mtu,
      nexthops: multipath ? nexthops(multipath, names) : undefined,
      family: family === af.inet6 ? 6 : 4,
    });
  }
  return out;
}
