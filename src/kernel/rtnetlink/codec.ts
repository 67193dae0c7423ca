/**
 * Pure rtnetlink framing (RFC 3549; Linux include/uapi/linux/{netlink,rtnetlink,neighbour}.h):
 * message headers, the fixed headers of links, routes and neighbours, and their attributes. Host
 * byte order, as netlink is; this runs on little-endian machines only (the driver checks).
 */
import ipaddr from "ipaddr.js";

export const nlm = {
  request: 0x1,
  ack: 0x4,
  dump: 0x300,
  replace: 0x100,
  excl: 0x200,
  create: 0x400,
  append: 0x800,
} as const;

export const rtm = {
  newLink: 16,
  delLink: 17,
  getLink: 18,
  newAddr: 20,
  delAddr: 21,
  getAddr: 22,
  newRoute: 24,
  delRoute: 25,
  getRoute: 26,
  newNeigh: 28,
  delNeigh: 29,
} as const;

export const af = { unspec: 0, inet: 2, bridge: 7, inet6: 10 } as const;

export const rta = {
  dst: 1,
  oif: 4,
  gateway: 5,
  priority: 6,
  prefsrc: 7,
  metrics: 8,
  multipath: 9,
  table: 15,
  via: 18,
} as const;

export const rtaxMtu = 2;
export const iflaIfname = 3;
/** Link attributes (linux/if_link.h): IFLA_*, IFLA_INFO_* and the kinds' own IFLA_<KIND>_*. */
export const ifla = {
  address: 1,
  ifname: iflaIfname,
  mtu: 4,
  link: 5,
  master: 10,
  operstate: 16,
  linkinfo: 18,
  netNsFd: 28,
  linkNetnsid: 37,
} as const;
export const iflaInfo = { kind: 1, data: 2 } as const;
export const iflaVxlan = { id: 1, local: 4, learning: 7, port: 15 } as const;
export const iflaMacvlanMode = 1;
export const iflaTunType = 3;
export const vethInfoPeer = 1;
/** ifi_flags */
export const iffUp = 0x1;
/** Address attributes and flags (linux/if_addr.h). */
export const ifa = { address: 1, local: 2, flags: 8 } as const;
export const ifaF = { nodad: 0x02, noprefixroute: 0x200 } as const;
export const nda = { dst: 1, lladdr: 2 } as const;
/** rtm_flags / rtnh_flags */
export const rtnhOnlink = 0x4;
export const rtmCloned = 0x200;

const nlmsgHdrLen = 16;
const align4 = (n: number) => (n + 3) & ~3;

/** One attribute: its type and payload (nested attributes are payloads built with `attrs`). */
export interface Attr {
  readonly type: number;
  readonly data: Buffer;
}

export const u32Attr = (type: number, v: number): Attr => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, data: b };
};

export const bytesAttr = (type: number, data: Uint8Array): Attr => ({ type, data: Buffer.from(data) });

/** Attributes laid out back to back, each padded to 4 octets. */
export function attrs(list: readonly Attr[]): Buffer {
  const size = list.reduce((n, a) => n + align4(4 + a.data.length), 0);
  const out = Buffer.alloc(size);
  let off = 0;
  for (const a of list) {
    out.writeUInt16LE(4 + a.data.length, off);
    out.writeUInt16LE(a.type, off + 2);
    a.data.copy(out, off + 4);
    off += align4(4 + a.data.length);
  }
  return out;
}

/** A whole message: header, fixed part, attributes. */
export function message(type: number, flags: number, seq: number, fixed: Buffer, attributes: Buffer): Buffer {
  const len = nlmsgHdrLen + align4(fixed.length) + attributes.length;
  const out = Buffer.alloc(len);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  fixed.copy(out, nlmsgHdrLen);
  attributes.copy(out, nlmsgHdrLen + align4(fixed.length));
  return out;
}

export interface RtMsg {
  readonly family: number;
  readonly dstLen: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

export function rtmsg(m: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.dstLen, 1);
  b.writeUInt8(0, 2); // src_len
  b.writeUInt8(0, 3); // tos
  b.writeUInt8(m.table, 4);
  b.writeUInt8(m.protocol, 5);
  b.writeUInt8(m.scope, 6);
  b.writeUInt8(m.type, 7);
  b.writeUInt32LE(m.flags >>> 0, 8);
  return b;
}

export interface NdMsg {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly flags: number;
}

export function ndmsg(m: NdMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeInt32LE(m.ifindex, 4);
  b.writeUInt16LE(m.state, 8);
  b.writeUInt8(m.flags, 10);
  return b;
}

/** ifinfomsg: a dump request sets only the family; a get of one link its index; a change flags and which. */
export const ifinfomsg = (
  family: number,
  m: { index?: number; flags?: number; change?: number } = {},
): Buffer => {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(m.index ?? 0, 4);
  b.writeUInt32LE((m.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((m.change ?? 0) >>> 0, 12);
  return b;
};

export interface IfAddrMsg {
  readonly family: number;
  readonly prefixLen: number;
  /** The low 8 bits of the address flags (the rest go in IFA_FLAGS). */
  readonly flags: number;
  readonly scope: number;
  readonly ifindex: number;
}

export function ifaddrmsg(m: IfAddrMsg): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.prefixLen, 1);
  b.writeUInt8(m.flags & 0xff, 2);
  b.writeUInt8(m.scope, 3);
  b.writeUInt32LE(m.ifindex >>> 0, 4);
  return b;
}

/** A NUL-terminated string attribute (as iproute2 sends names). */
export const stringAttr = (type: number, text: string): Attr => ({
  type,
  data: Buffer.from(`${text}\0`, "utf8"),
});

/** One received message: its type, flags and the bytes after the netlink header. */
export interface Received {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

export class NetlinkDecodeError extends Error {}

/** Split a dump's bytes into messages; a length that does not fit is an error, never a guess. */
export function splitMessages(buf: Buffer): Received[] {
  const out: Received[] = [];
  let off = 0;
  while (off + nlmsgHdrLen <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < nlmsgHdrLen || off + len > buf.length)
      throw new NetlinkDecodeError(`netlink message at ${off} claims ${len} octets of ${buf.length - off}`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      body: buf.subarray(off + nlmsgHdrLen, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes of a payload from `start`: type (without the nested/byte-order bits) → data. */
export function parseAttrs(buf: Buffer, start: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = start;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length)
      throw new NetlinkDecodeError(`attribute at ${off} claims ${len} octets`);
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** A NUL-terminated string attribute's text (the NUL and anything after it left out). */
export function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString();
}

/** An address's text from 4 or 16 octets (IPv6 compressed, RFC 5952, as iproute2 prints it). */
export function addressText(b: Buffer): string {
  if (b.length !== 4 && b.length !== 16) throw new NetlinkDecodeError(`an address of ${b.length} octets`);
  return ipaddr.fromByteArray([...b]).toString();
}

/** Octets of an IPv4 or IPv6 address text; undefined when it is neither. */
export function addressBytes(text: string): Buffer | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return Buffer.from(ipaddr.IPv4.parse(text).toByteArray());
  if (text.includes(":") && ipaddr.IPv6.isValid(text))
    return Buffer.from(ipaddr.IPv6.parse(text).toByteArray());
  return undefined;
}

/** "aa:bb:cc:dd:ee:ff" → 6 octets; undefined if it is not a MAC. */
export function macBytes(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.split(":").map((h) => Number.parseInt(h, 16)));
}
