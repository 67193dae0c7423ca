import type { Link } from "../api.js";
import {
  addressText,
  cString,
  iffUp,
  ifla,
  iflaInfo,
  iflaMacvlanMode,
  iflaTunType,
  iflaVxlan,
  parseAttrs,
  rtm,
  splitMessages,
} from "./codec.js";
import { macvlanModeText, operStateText } from "./names.js";

/**
 * Links from RTM_NEWLINK messages (a dump, or the answer to a get of one link), giving what the
 * iproute2 driver's parser gives for `ip -json -details link show` of the same kernel state
 * (src/kernel/iproute2/parse.ts), field for field, including `ip`'s own ways: a veth's peer index
 * only when the peer is in another namespace (`ip` prints a same-namespace peer by name), a VXLAN
 * `local` only for an IPv4 source, a macvlan's parent only when it is in the same namespace.
 */

/** One RTM_NEWLINK's fixed part and attributes. */
interface LinkMessage {
  readonly index: number;
  /** ifi_type (ARPHRD_*): how `ip` prints the hardware address. */
  readonly type: number;
  readonly flags: number;
  readonly attrs: ReadonlyMap<number, Buffer>;
}

function linkMessages(dump: Buffer): LinkMessage[] {
  const out: LinkMessage[] = [];
  for (const m of splitMessages(dump)) {
    if (m.type !== rtm.newLink || m.body.length < 16) continue;
    out.push({
      type: m.body.readUInt16LE(2),
      index: m.body.readInt32LE(4),
      flags: m.body.readUInt32LE(8),
      attrs: parseAttrs(m.body, 16),
    });
  }
  return out;
}

const u8 = (b: Buffer | undefined) => (b && b.length >= 1 ? b.readUInt8(0) : undefined);
const u32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
const i32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readInt32LE(0) : undefined);

/** ARPHRD_TUNNEL, ARPHRD_SIT, ARPHRD_IPGRE; ARPHRD_TUNNEL6, ARPHRD_IP6GRE. */
const ipv4Tunnels = new Set([768, 776, 778]);
const ipv6Tunnels = new Set([769, 823]);

/** A hardware address as `ip` prints it (ll_addr_n2a): tunnels' as IP addresses, else hex octets. */
export function linkAddressText(b: Buffer, type: number): string {
  if ((b.length === 4 && ipv4Tunnels.has(type)) || (b.length === 16 && ipv6Tunnels.has(type)))
    return addressText(b);
  return [...b].map((o) => o.toString(16).padStart(2, "0")).join(":");
}

/** `ip` names a link it refers to by index from its cache, and "if<index>" when it has none. */
const nameOf = (names: ReadonlyMap<number, string>, index: number) => names.get(index) ?? `if${index}`;

function toLink(m: LinkMessage, names: ReadonlyMap<number, string>): Link {
  const a = m.attrs;
  const info = a.get(ifla.linkinfo);
  const infoAttrs = info ? parseAttrs(info, 0) : undefined;
  const kindAttr = infoAttrs?.get(iflaInfo.kind);
  const kind = kindAttr ? cString(kindAttr) : undefined;
  const dataAttr = kindAttr ? infoAttrs?.get(iflaInfo.data) : undefined;
  const data = dataAttr ? parseAttrs(dataAttr, 0) : new Map<number, Buffer>();
  const address = a.get(ifla.address);
  const master = u32(a.get(ifla.master));
  const operState = u8(a.get(ifla.operstate));
  // IFLA_LINK: `ip` prints it as an index when the other end is in another namespace
  // (IFLA_LINK_NETNSID), as a name when it is here, and not at all when it is 0.
  const linked = i32(a.get(ifla.link));
  const netnsId = i32(a.get(ifla.linkNetnsid));
  const peerIndex = linked && netnsId !== undefined ? linked : undefined;
  const linkName = linked && netnsId === undefined ? nameOf(names, linked) : undefined;
  const vxlanLocal = data.get(iflaVxlan.local);
  const macvlanMode = u32(data.get(iflaMacvlanMode));
  return {
    index: m.index,
    name: cString(a.get(ifla.ifname) ?? Buffer.alloc(0)),
    kind,
    mtu: u32(a.get(ifla.mtu)) as number,
    mac: address ? linkAddressText(address, m.type) : undefined,
    up: (m.flags & iffUp) !== 0,
    operState: (operState === undefined ? undefined : operStateText(operState)) ?? "UNKNOWN",
    master: master === undefined ? undefined : nameOf(names, master),
    peerIndex: kind === "veth" ? peerIndex : undefined,
    peerNetnsId: kind === "veth" ? netnsId : undefined,
    vxlan:
      kind === "vxlan"
        ? {
            vni: u32(data.get(iflaVxlan.id)) ?? Number.NaN,
            port: data.get(iflaVxlan.port)?.readUInt16BE(0) ?? Number.NaN,
            local: vxlanLocal && vxlanLocal.readUInt32BE(0) !== 0 ? addressText(vxlanLocal) : undefined,
            learning: (u8(data.get(iflaVxlan.learning)) ?? 0) !== 0,
          }
        : undefined,
    macvlan:
      kind === "macvlan"
        ? { mode: macvlanMode === undefined ? "undefined" : macvlanModeText(macvlanMode), parent: linkName }
        : undefined,
    tun: kind === "tun" ? { type: u8(data.get(iflaTunType)) === 2 ? "tap" : "tun" } : undefined,
  };
}

/**
 * The links of an RTM_GETLINK dump (or get) in its order. Masters and macvlan parents are named
 * from `names`; when absent, from the links of the dump itself (a dump of every link).
 */
export function decodeLinks(dump: Buffer, names?: ReadonlyMap<number, string>): Link[] {
  const msgs = linkMessages(dump);
  const byIndex =
    names ?? new Map(msgs.map((m) => [m.index, cString(m.attrs.get(ifla.ifname) ?? Buffer.alloc(0))]));
  return msgs.map((m) => toLink(m, byIndex));
}

/** The indexes of the links these messages name by name (masters, same-namespace IFLA_LINKs). */
export function linkReferences(dump: Buffer): number[] {
  const out = new Set<number>();
  for (const m of linkMessages(dump)) {
    const master = u32(m.attrs.get(ifla.master));
    if (master) out.add(master);
    const linked = i32(m.attrs.get(ifla.link));
    if (linked && !m.attrs.has(ifla.linkNetnsid)) out.add(linked);
  }
  return [...out];
}
