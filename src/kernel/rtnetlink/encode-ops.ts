import type { FdbEntry, KernelOp, LinkSpec, Netns, Route } from "../api.js";
import {
  type Attr,
  addressBytes,
  af,
  attrs,
  bytesAttr,
  ifa,
  ifaddrmsg,
  ifaF,
  iffUp,
  ifinfomsg,
  ifla,
  iflaInfo,
  macBytes,
  message,
  nda,
  ndmsg,
  nlm,
  rta,
  rtaxMtu,
  rtm,
  rtmsg,
  rtnhOnlink,
  stringAttr,
  u32Attr,
  vethInfoPeer,
} from "./codec.js";
import { protocolNumber } from "./names.js";

/**
 * Pure: the rtnetlink message for one op, with the same meaning iproute2 gives the command the
 * iproute2 driver renders for it (src/kernel/iproute2/render.ts): the same defaults for protocol,
 * scope and table, `nud permanent` neighbours, `bridge fdb` flags, `ip addr` scopes and flags,
 * `ip link set`'s order (attributes, then up/down). Ops this encoder does not carry (sysctls,
 * link kinds other than veth and bridge, renames and moves, a protocol name it does not
 * know, a name the kernel would refuse) are `undefined`: the driver hands those to iproute2, in
 * order. An op may be more than one message (link.set: attributes, then up), as iproute2 runs
 * more than one command for it.
 */

/** Interface index by name in the op's namespace; undefined: no such device. */
export type IfIndex = (name: string) => number | undefined;

/**
 * An open descriptor of a namespace, for a veth's peer (IFLA_NET_NS_FD); undefined: this
 * encoder does not carry the op (the driver's own namespace, say). Throws MissingNetns.
 */
export type NetnsFd = (ns: Netns) => number | undefined;

/** The op names a device that is not there: iproute2's words for it, so it classifies alike. */
export class MissingDevice extends Error {
  constructor(
    readonly dev: string,
    detail = `Cannot find device "${dev}"`,
    readonly kind: "not-found" | "invalid" = "not-found",
  ) {
    super(detail);
  }
}

/** A veth's peer namespace that cannot be opened: iproute2's words and kind ("invalid"). */
export class MissingNetns extends MissingDevice {
  constructor(path: string, why: string) {
    super(path, `Error: argument "${path}" is wrong: Invalid "netns" value (${why})`, "invalid");
  }
}

const rtTableMain = 254;
const rtnUnicast = 1;
const rtProtBoot = 3;
const scope = { universe: 0, link: 253, host: 254, nowhere: 255 } as const;
const nudReachable = 0x02;
const nudNoarp = 0x40;
const nudPermanent = 0x80;
const ntfSelf = 0x02;
const ntfMaster = 0x04;

/** The ops this encoder carries. */
export const carriedOps = new Set<KernelOp["op"]>([
  "route.add",
  "route.replace",
  "route.delete",
  "neigh.replace",
  "neigh.delete",
  "fdb.append",
  "fdb.replace",
  "fdb.delete",
  "link.add",
  "link.set",
  "link.delete",
  "addr.add",
  "addr.delete",
]);

/** Ops after which the namespace's link names may differ (the driver looks them up again). */
export const changesLinks = (op: KernelOp): boolean => op.op === "link.add" || op.op === "link.delete";

/** A name the kernel takes as a device name (dev_valid_name); others go to iproute2, which refuses them alike. */
const validIfName = (name: string) =>
  name !== "." && name !== ".." && Buffer.byteLength(name) <= 15 && /^[^\s/:\0]+$/.test(name);
const validMtu = (mtu: number | undefined) => mtu === undefined || (Number.isInteger(mtu) && mtu >= 0);
const addrScope = { global: 0, link: 253, host: 254 } as const;

/** IFLA_IFNAME, IFLA_MTU and IFLA_ADDRESS of a link or a veth peer; undefined if one is not carried. */
function linkBasics(name: string, mtu: number | undefined, mac: string | undefined): Attr[] | undefined {
  if (!validIfName(name) || !validMtu(mtu)) return undefined;
  const list = [stringAttr(ifla.ifname, name)];
  if (mtu !== undefined) list.push(u32Attr(ifla.mtu, mtu));
  if (mac !== undefined) {
    const m = macBytes(mac);
    if (!m) return undefined;
    list.push(bytesAttr(ifla.address, m));
  }
  return list;
}

/** `ip link add name N [mtu] [address] type veth|bridge [peer name P [mtu] [address] [netns NS]]`. */
function linkAddMessage(spec: LinkSpec, seq: number, nsFd: NetnsFd | undefined): Buffer | undefined {
  if (spec.kind !== "veth" && spec.kind !== "bridge") return undefined;
  const list = linkBasics(spec.name, spec.mtu, "mac" in spec ? spec.mac : undefined);
  if (!list) return undefined;
  const info: Attr[] = [bytesAttr(iflaInfo.kind, Buffer.from(spec.kind))];
  if (spec.kind === "veth") {
    const peer = linkBasics(spec.peer.name, spec.peer.mtu, spec.peer.mac);
    if (!peer) return undefined;
    if (spec.peer.netns) {
      const fd = nsFd?.(spec.peer.netns);
      if (fd === undefined) return undefined;
      peer.push(u32Attr(ifla.netNsFd, fd));
    }
    const peerInfo = Buffer.concat([ifinfomsg(af.unspec), attrs(peer)]);
    info.push(bytesAttr(iflaInfo.data, attrs([bytesAttr(vethInfoPeer, peerInfo)])));
  }
  list.push(bytesAttr(ifla.linkinfo, attrs(info)));
  return message(
    rtm.newLink,
    nlm.request | nlm.ack | nlm.create | nlm.excl,
    seq,
    ifinfomsg(af.unspec),
    attrs(list),
  );
}

/**
 * `ip link set dev N [mtu] [address] [master M|nomaster]`, then `ip link set dev N up|down`: the
 * device by name (the kernel looks it up, no index to go stale). Renames and moves: iproute2.
 */
function linkSetMessages(
  op: Extract<KernelOp, { op: "link.set" }>,
  ifindex: IfIndex,
  seq: () => number,
): Buffer | undefined {
  if (op.rename !== undefined || op.netns !== undefined) return undefined;
  const basics = linkBasics(op.name, op.mtu, op.mac);
  if (!basics) return undefined;
  const out: Buffer[] = [];
  if (op.master === null) basics.push(u32Attr(ifla.master, 0));
  else if (op.master !== undefined) basics.push(u32Attr(ifla.master, dev(ifindex, op.master)));
  if (basics.length > 1)
    out.push(message(rtm.newLink, nlm.request | nlm.ack, seq(), ifinfomsg(af.unspec), attrs(basics)));
  if (op.up !== undefined) {
    const up = ifinfomsg(af.unspec, { flags: op.up ? iffUp : 0, change: iffUp });
    out.push(
      message(rtm.newLink, nlm.request | nlm.ack, seq(), up, attrs([stringAttr(ifla.ifname, op.name)])),
    );
  }
  return out.length > 0 ? Buffer.concat(out) : undefined;
}

/** `ip addr add|del CIDR [peer P] dev D [scope S] [noprefixroute] [nodad]`, with iproute2's defaults. */
function addrMessage(
  op: Extract<KernelOp, { op: "addr.add" | "addr.delete" }>,
  ifindex: IfIndex,
  seq: number,
): Buffer | undefined {
  const [addr, lenText, ...rest] = op.cidr.split("/") as [string, string | undefined];
  const local = addressBytes(addr);
  if (!local || rest.length > 0) return undefined;
  const prefixLen = lenText === undefined ? local.length * 8 : Number(lenText);
  if (!/^\d+$/.test(lenText ?? "0") || prefixLen > local.length * 8) return undefined;
  const add = op.op === "addr.add";
  let address = local;
  if (add && op.peer !== undefined) {
    const p = op.peer.includes("/") ? undefined : addressBytes(op.peer);
    if (!p || p.length !== local.length) return undefined;
    address = p;
  }
  const flags = add ? (op.noDad ? ifaF.nodad : 0) | (op.noPrefixRoute ? ifaF.noprefixroute : 0) : 0;
  const list: Attr[] = [bytesAttr(ifa.local, local), bytesAttr(ifa.address, address)];
  if (flags > 0xff) list.push(u32Attr(ifa.flags, flags));
  // iproute2's default scope: host for 127/8, else universe (the kernel picks IPv6's itself).
  const scope =
    add && op.scope !== undefined
      ? addrScope[op.scope]
      : add && local.length === 4 && local[0] === 127
        ? addrScope.host
        : 0;
  return message(
    add ? rtm.newAddr : rtm.delAddr,
    nlm.request | nlm.ack | (add ? nlm.create | nlm.excl : 0),
    seq,
    ifaddrmsg({
      family: local.length === 4 ? af.inet : af.inet6,
      prefixLen,
      flags: flags > 0xff ? 0 : flags,
      scope,
      ifindex: dev(ifindex, op.dev),
    }),
    attrs(list),
  );
}

function family(text: string): number {
  return text.includes(":") ? af.inet6 : af.inet;
}

function dev(ifindex: IfIndex, name: string): number {
  const i = ifindex(name);
  if (i === undefined) throw new MissingDevice(name);
  return i;
}

/** Gateway attribute: RTA_GATEWAY in the route's family, RTA_VIA for the other one (RFC 8950). */
function gatewayAttr(routeFamily: number, via: string): Attr | undefined {
  const b = addressBytes(via);
  if (!b) return undefined;
  if (family(via) === routeFamily) return bytesAttr(rta.gateway, b);
  const v = Buffer.alloc(2 + b.length);
  v.writeUInt16LE(family(via), 0);
  b.copy(v, 2);
  return bytesAttr(rta.via, v);
}

function routeMessage(
  op: "route.add" | "route.replace" | "route.delete",
  r: Route,
  ifindex: IfIndex,
  seq: number,
): Buffer | undefined {
  const del = op === "route.delete";
  const hasNexthops = r.nexthops !== undefined && r.nexthops.length > 0;
  const fam =
    r.dst === "default"
      ? r.family === 6 || (!hasNexthops && r.via?.includes(":") && r.family !== 4)
        ? af.inet6
        : af.inet
      : family(r.dst);
  let dstLen = 0;
  const list: Attr[] = [];
  if (r.dst !== "default") {
    const [addr, len] = r.dst.split("/") as [string, string | undefined];
    const b = addressBytes(addr);
    if (!b || family(addr) !== fam) return undefined;
    dstLen = len === undefined ? b.length * 8 : Number(len);
    if (!Number.isInteger(dstLen) || dstLen < 0 || dstLen > b.length * 8) return undefined;
    list.push(bytesAttr(rta.dst, b));
  }
  const protocol = r.proto === undefined ? (del ? 0 : rtProtBoot) : protocolNumber(r.proto);
  if (protocol === undefined) return undefined;
  const table = r.table ?? rtTableMain;
  if (!Number.isInteger(table) || table < 0) return undefined;
  let flags = 0;
  let gatewayOrNexthops = false;
  if (hasNexthops) {
    const parts: Buffer[] = [];
    for (const nh of r.nexthops ?? []) {
      const inner: Attr[] = [];
      if (nh.via !== undefined) {
        const g = gatewayAttr(fam, nh.via);
        if (!g) return undefined;
        inner.push(g);
      }
      const body = attrs(inner);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(8 + body.length, 0);
      head.writeUInt8(nh.onlink ? rtnhOnlink : 0, 2);
      head.writeUInt8(Math.max(0, (nh.weight ?? 1) - 1), 3);
      head.writeInt32LE(nh.dev !== undefined ? dev(ifindex, nh.dev) : 0, 4);
      parts.push(head, body);
    }
    list.push(bytesAttr(rta.multipath, Buffer.concat(parts)));
    gatewayOrNexthops = true;
  } else {
    if (r.via !== undefined) {
      const g = gatewayAttr(fam, r.via);
      if (!g) return undefined;
      list.push(g);
      gatewayOrNexthops = true;
    }
    if (r.dev !== undefined) list.push(u32Attr(rta.oif, dev(ifindex, r.dev)));
    if (r.onlink) flags |= rtnhOnlink;
  }
  if (r.metric !== undefined) list.push(u32Attr(rta.priority, r.metric));
  if (r.src !== undefined) {
    const b = addressBytes(r.src);
    if (!b) return undefined;
    list.push(bytesAttr(rta.prefsrc, b));
  }
  if (r.mtu !== undefined) list.push(bytesAttr(rta.metrics, attrs([u32Attr(rtaxMtu, r.mtu)])));
  if (table > 255) list.push(u32Attr(rta.table, table));
  // iproute2's defaults: unicast, universe scope; a route without a gateway is link scope; a
  // delete matches any scope and any protocol unless told.
  const sc =
    r.scope !== undefined
      ? scope[r.scope === "global" ? "universe" : r.scope]
      : del
        ? scope.nowhere
        : gatewayOrNexthops
          ? scope.universe
          : scope.link;
  const type = del ? 0 : rtnUnicast;
  const nlFlags =
    nlm.request |
    nlm.ack |
    (op === "route.add" ? nlm.create | nlm.excl : op === "route.replace" ? nlm.create | nlm.replace : 0);
  return message(
    del ? rtm.delRoute : rtm.newRoute,
    nlFlags,
    seq,
    rtmsg({ family: fam, dstLen, table: table > 255 ? 0 : table, protocol, scope: sc, type, flags }),
    attrs(list),
  );
}

function fdbMessage(
  op: "fdb.append" | "fdb.replace" | "fdb.delete",
  e: FdbEntry,
  ifindex: IfIndex,
  seq: number,
) {
  const mac = macBytes(e.mac);
  if (!mac) return undefined;
  const list: Attr[] = [bytesAttr(nda.lladdr, mac)];
  if (e.dst !== undefined) {
    const b = addressBytes(e.dst);
    if (!b) return undefined;
    list.push(bytesAttr(nda.dst, b));
  }
  // `bridge fdb`: self unless master was asked for; always NUD_NOARP, permanent unless "static".
  let flags = (e.self || (!e.master && e.dst) ? ntfSelf : 0) | (e.master ? ntfMaster : 0);
  if (flags === 0) flags = ntfSelf;
  const nlFlags =
    nlm.request |
    nlm.ack |
    (op === "fdb.append" ? nlm.create | nlm.append : op === "fdb.replace" ? nlm.create | nlm.replace : 0);
  return message(
    op === "fdb.delete" ? rtm.delNeigh : rtm.newNeigh,
    nlFlags,
    seq,
    ndmsg({ family: af.bridge, ifindex: dev(ifindex, e.dev), state: nudNoarp | nudPermanent, flags }),
    attrs(list),
  );
}

/**
 * Pure (but for `nsFd`): the message(s) for `op`, or undefined when this encoder does not carry
 * it. `seq` numbers each message; `nsFd` opens a veth peer's namespace (absent: not carried).
 */
export function encodeOp(
  op: KernelOp,
  ifindex: IfIndex,
  seq: number | (() => number),
  nsFd?: NetnsFd,
): Buffer | undefined {
  const nextSeq = typeof seq === "number" ? () => seq : seq;
  switch (op.op) {
    case "link.add":
      return linkAddMessage(op.spec, nextSeq(), nsFd);
    case "link.set":
      return linkSetMessages(op, ifindex, nextSeq);
    case "link.delete":
      if (!validIfName(op.name)) return undefined;
      return message(
        rtm.delLink,
        nlm.request | nlm.ack,
        nextSeq(),
        ifinfomsg(af.unspec),
        attrs([stringAttr(ifla.ifname, op.name)]),
      );
    case "addr.add":
    case "addr.delete":
      return addrMessage(op, ifindex, nextSeq());
    case "route.add":
    case "route.replace":
    case "route.delete":
      return routeMessage(op.op, op.route, ifindex, nextSeq());
    case "neigh.replace": {
      const ip = addressBytes(op.ip);
      const mac = macBytes(op.mac);
      if (!ip || !mac) return undefined;
      return message(
        rtm.newNeigh,
        nlm.request | nlm.ack | nlm.create | nlm.replace,
        nextSeq(),
        ndmsg({
          family: family(op.ip),
          ifindex: dev(ifindex, op.dev),
          state: op.permanent === false ? nudReachable : nudPermanent,
          flags: 0,
        }),
        attrs([bytesAttr(nda.dst, ip), bytesAttr(nda.lladdr, mac)]),
      );
    }
    case "neigh.delete": {
      const ip = addressBytes(op.ip);
      if (!ip) return undefined;
      return message(
        rtm.delNeigh,
        nlm.request | nlm.ack,
        nextSeq(),
        ndmsg({ family: family(op.ip), ifindex: dev(ifindex, op.dev), state: 0, flags: 0 }),
        attrs([bytesAttr(nda.dst, ip)]),
      );
    }
    case "fdb.append":
    case "fdb.replace":
    case "fdb.delete":
      return fdbMessage(op.op, op.entry, ifindex, nextSeq());
    default:
      return undefined;
  }
}
