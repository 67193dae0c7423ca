import type { FdbEntry, KernelOp, Route } from "../api.js";
import {
  type Attr,
  addressBytes,
  af,
  attrs,
  bytesAttr,
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
  u32Attr,
} from "./codec.js";
import { protocolNumber } from "./names.js";

/**
 * Pure: the rtnetlink message for one op, with the same meaning iproute2 gives the command the
 * iproute2 driver renders for it (src/kernel/iproute2/render.ts): the same defaults for protocol,
 * scope and table, `nud permanent` neighbours, `bridge fdb` flags. Ops this encoder does not
 * carry (links, addresses, sysctls, a protocol name it does not know) are `undefined`: the
 * driver hands those to iproute2, in order.
 */

/** Interface index by name in the op's namespace; undefined: no such device. */
export type IfIndex = (name: string) => number | undefined;

/** The op names a device that is not there: iproute2's words for it, so it classifies alike. */
export class MissingDevice extends Error {
  constructor(readonly dev: string) {
    super(`Cannot find device "${dev}"`);
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
]);

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

/** Pure: the message for `op`, or undefined when this encoder does not carry it. */
export function encodeOp(op: KernelOp, ifindex: IfIndex, seq: number): Buffer | undefined {
  switch (op.op) {
    case "route.add":
    case "route.replace":
    case "route.delete":
      return routeMessage(op.op, op.route, ifindex, seq);
    case "neigh.replace": {
      const ip = addressBytes(op.ip);
      const mac = macBytes(op.mac);
      if (!ip || !mac) return undefined;
      return message(
        rtm.newNeigh,
        nlm.request | nlm.ack | nlm.create | nlm.replace,
        seq,
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
        seq,
        ndmsg({ family: family(op.ip), ifindex: dev(ifindex, op.dev), state: 0, flags: 0 }),
        attrs([bytesAttr(nda.dst, ip)]),
      );
    }
    case "fdb.append":
    case "fdb.replace":
    case "fdb.delete":
      return fdbMessage(op.op, op.entry, ifindex, seq);
    default:
      return undefined;
  }
}
