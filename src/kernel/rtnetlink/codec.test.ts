import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KernelOp } from "../api.js";
import {
  addressBytes,
  addressText,
  attrs,
  ifa,
  ifla,
  iflaInfo,
  macBytes,
  message,
  NetlinkDecodeError,
  nlm,
  parseAttrs,
  rta,
  rtm,
  rtmsg,
  splitMessages,
  u32Attr,
} from "./codec.js";
import { decodeRoutes } from "./decode.js";
import { encodeOp, MissingDevice } from "./encode-ops.js";
import { protocolNumber, protocolText } from "./names.js";

const ifindex = (name: string) => ({ eth0: 2, "strata.1": 7 })[name];

/** The fixed rtmsg fields and attributes of one encoded route message. */
function routeOf(buf: Buffer) {
  const [m] = splitMessages(buf);
  assert.ok(m);
  const b = m.body;
  return {
    type: m.type,
    flags: m.flags,
    family: b[0],
    dstLen: b[1],
    table: b[4],
    protocol: b[5],
    scope: b[6],
    rtype: b[7],
    rtmFlags: b.readUInt32LE(8),
    attrs: parseAttrs(b, 12),
  };
}

describe("rtnetlink framing", () => {
  test("a message's length covers header, padded fixed part and attributes; it splits back", () => {
    const buf = message(rtm.newRoute, 0x405, 9, Buffer.alloc(12), attrs([u32Attr(rta.oif, 3)]));
    assert.equal(buf.length, 16 + 12 + 8);
    assert.equal(buf.readUInt32LE(0), buf.length);
    const [m] = splitMessages(Buffer.concat([buf, buf]));
    assert.equal(m?.type, rtm.newRoute);
    assert.equal(m?.flags, 0x405);
    assert.equal(
      parseAttrs(m?.body as Buffer, 12)
        .get(rta.oif)
        ?.readUInt32LE(0),
      3,
    );
  });

  test("attributes are padded to 4 octets; a length past the end is an error, not a guess", () => {
    const a = attrs([{ type: 1, data: Buffer.from([1, 2, 3, 4, 5]) }, u32Attr(2, 7)]);
    assert.equal(a.length, 12 + 8);
    assert.deepEqual([...(parseAttrs(a, 0).get(1) ?? [])], [1, 2, 3, 4, 5]);
    const bad = Buffer.from(a);
    bad.writeUInt16LE(200, 0);
    assert.throws(() => parseAttrs(bad, 0), NetlinkDecodeError);
    const msg = message(rtm.newRoute, 0, 1, Buffer.alloc(12), Buffer.alloc(0));
    msg.writeUInt32LE(500, 0);
    assert.throws(() => splitMessages(msg), NetlinkDecodeError);
  });

  test("addresses and MACs both ways; anything else is refused", () => {
    for (const a of ["10.244.3.0", "fd00:10:244:3::", "::1", "fe80::1:2", "2001:db8::ffff:1"])
      assert.equal(addressText(addressBytes(a) as Buffer), a);
    for (const a of ["10.244.3", "256.1.1.1", "fd00::1::2", "eth0", ""])
      assert.equal(addressBytes(a), undefined, a);
    assert.deepEqual([...(macBytes("02:5a:4c:00:00:0a") ?? [])], [2, 0x5a, 0x4c, 0, 0, 10]);
    assert.equal(macBytes("02:5a:4c:00:00"), undefined);
  });

  test("protocols by iproute2's names and numbers", () => {
    assert.equal(protocolNumber("147"), 147);
    assert.equal(protocolNumber("kernel"), 2);
    assert.equal(protocolNumber("bird"), 12);
    assert.equal(protocolNumber("300"), undefined);
    assert.equal(protocolNumber("no-such"), undefined);
    assert.equal(protocolText(147), "147");
    assert.equal(protocolText(186), "bgp");
  });
});

describe("ops as rtnetlink messages (iproute2's meaning)", () => {
  test("route add: create+excl, boot protocol unless told, universe scope with a gateway, link scope without", () => {
    const via = routeOf(
      encodeOp(
        {
          op: "route.add",
          route: { dst: "10.244.3.0/24", via: "192.168.5.3", dev: "eth0", onlink: true, proto: "147" },
        },
        ifindex,
        1,
      ) as Buffer,
    );
    assert.equal(via.type, rtm.newRoute);
    assert.equal(via.flags, 0x1 | 0x4 | 0x400 | 0x200);
    assert.deepEqual(
      [via.family, via.dstLen, via.table, via.protocol, via.scope, via.rtype],
      [2, 24, 254, 147, 0, 1],
    );
    assert.equal(via.rtmFlags, 4); // onlink
    assert.equal(addressText(via.attrs.get(rta.gateway) as Buffer), "192.168.5.3");
    assert.equal(via.attrs.get(rta.oif)?.readUInt32LE(0), 2);
    const link = routeOf(
      encodeOp({ op: "route.add", route: { dst: "10.9.1.7", dev: "eth0" } }, ifindex, 1) as Buffer,
    );
    assert.deepEqual([link.dstLen, link.protocol, link.scope], [32, 3, 253]);
  });

  test("route replace and delete; a table past 255 goes in RTA_TABLE; an IPv6 gateway for IPv4 is RTA_VIA", () => {
    const rep = routeOf(
      encodeOp(
        {
          op: "route.replace",
          route: { dst: "10.1.0.0/16", via: "fd00::9", table: 1000, mtu: 1400, metric: 5 },
        },
        ifindex,
        1,
      ) as Buffer,
    );
    assert.equal(rep.flags, 0x1 | 0x4 | 0x400 | 0x100);
    assert.equal(rep.table, 0);
    assert.equal(rep.attrs.get(rta.table)?.readUInt32LE(0), 1000);
    assert.equal(rep.attrs.get(rta.priority)?.readUInt32LE(0), 5);
    assert.equal(rep.attrs.get(rta.gateway), undefined);
    assert.equal(rep.attrs.get(rta.via)?.readUInt16LE(0), 10);
    assert.equal(
      parseAttrs(rep.attrs.get(rta.metrics) as Buffer, 0)
        .get(2)
        ?.readUInt32LE(0),
      1400,
    );
    const del = routeOf(
      encodeOp({ op: "route.delete", route: { dst: "fd00:10:244:3::/64" } }, ifindex, 1) as Buffer,
    );
    assert.equal(del.type, rtm.delRoute);
    assert.deepEqual([del.family, del.dstLen, del.protocol, del.scope, del.rtype], [10, 64, 0, 255, 0]);
  });

  test("neighbours are permanent unless told; FDB entries are self unless master, always noarp+permanent", () => {
    const n = splitMessages(
      encodeOp(
        { op: "neigh.replace", dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02" },
        ifindex,
        1,
      ) as Buffer,
    )[0];
    assert.equal(n?.type, rtm.newNeigh);
    assert.equal(n?.body.readInt32LE(4), 7);
    assert.equal(n?.body.readUInt16LE(8), 0x80);
    const f = splitMessages(
      encodeOp(
        { op: "fdb.append", entry: { dev: "strata.1", mac: "00:00:00:00:00:00", dst: "192.168.5.2" } },
        ifindex,
        1,
      ) as Buffer,
    )[0];
    assert.equal((f?.flags ?? 0) & 0x800, 0x800);
    assert.deepEqual([f?.body[0], f?.body.readUInt16LE(8), f?.body[10]], [7, 0xc0, 0x02]);
    const m = splitMessages(
      encodeOp(
        { op: "fdb.replace", entry: { dev: "strata.1", mac: "02:00:00:00:00:09", master: true } },
        ifindex,
        1,
      ) as Buffer,
    )[0];
    assert.equal(m?.body[10], 0x04);
  });

  test("links: set is attributes then up/down, by name; a veth's peer gets its namespace's descriptor", () => {
    const set = splitMessages(
      encodeOp(
        { op: "link.set", name: "eth0", master: "strata.1", mtu: 1400, up: true },
        ifindex,
        1,
      ) as Buffer,
    );
    assert.deepEqual(
      set.map((m) => m.type),
      [rtm.newLink, rtm.newLink],
    );
    const [attrsMsg, upMsg] = set as [(typeof set)[0], (typeof set)[0]];
    const a = parseAttrs(attrsMsg.body, 16);
    assert.equal(attrsMsg.body.readInt32LE(4), 0); // by name: no index to go stale
    assert.equal(a.get(ifla.ifname)?.toString(), "eth0\0");
    assert.equal(a.get(ifla.master)?.readUInt32LE(0), 7);
    assert.equal(a.get(ifla.mtu)?.readUInt32LE(0), 1400);
    assert.equal(attrsMsg.flags & nlm.create, 0); // never makes a device
    assert.deepEqual([upMsg.body.readUInt32LE(8), upMsg.body.readUInt32LE(12)], [1, 1]); // flags, change
    const down = splitMessages(encodeOp({ op: "link.set", name: "eth0", up: false }, ifindex, 1) as Buffer);
    assert.deepEqual([down.length, down[0]?.body.readUInt32LE(8), down[0]?.body.readUInt32LE(12)], [1, 0, 1]);
    const nomaster = parseAttrs(
      splitMessages(encodeOp({ op: "link.set", name: "eth0", master: null }, ifindex, 1) as Buffer)[0]
        ?.body as Buffer,
      16,
    );
    assert.equal(nomaster.get(ifla.master)?.readUInt32LE(0), 0);
    assert.throws(
      () => encodeOp({ op: "link.set", name: "eth0", master: "nosuch" }, ifindex, 1),
      MissingDevice,
    );

    const veth: KernelOp = {
      op: "link.add",
      spec: {
        kind: "veth",
        name: "v0",
        mtu: 1450,
        peer: { name: "eth0", mtu: 1450, netns: { kind: "named", name: "x" } },
      },
    };
    const [add] = splitMessages(encodeOp(veth, ifindex, 1, () => 42) as Buffer);
    assert.equal(add?.type, rtm.newLink);
    assert.equal((add?.flags ?? 0) & (nlm.create | nlm.excl), nlm.create | nlm.excl);
    const info = parseAttrs(parseAttrs(add?.body as Buffer, 16).get(ifla.linkinfo) as Buffer, 0);
    assert.equal(info.get(iflaInfo.kind)?.toString(), "veth");
    const peer = parseAttrs(parseAttrs(info.get(iflaInfo.data) as Buffer, 0).get(1) as Buffer, 16);
    assert.equal(peer.get(ifla.ifname)?.toString(), "eth0\0");
    assert.equal(peer.get(ifla.netNsFd)?.readUInt32LE(0), 42);
  });

  test("addresses: iproute2's default scope (host for 127/8), nodad in the header, noprefixroute in IFA_FLAGS", () => {
    const addr = (op: KernelOp) => {
      const [m] = splitMessages(encodeOp(op, ifindex, 1) as Buffer);
      assert.ok(m);
      const b = m.body;
      return {
        type: m.type,
        family: b[0],
        len: b[1],
        flags: b[2],
        scope: b[3],
        index: b.readUInt32LE(4),
        attrs: parseAttrs(b, 8),
      };
    };
    const v4 = addr({ op: "addr.add", dev: "eth0", cidr: "10.1.0.5/24" });
    assert.deepEqual(
      [v4.type, v4.family, v4.len, v4.flags, v4.scope, v4.index],
      [rtm.newAddr, 2, 24, 0, 0, 2],
    );
    assert.equal(addressText(v4.attrs.get(ifa.local) as Buffer), "10.1.0.5");
    assert.equal(addressText(v4.attrs.get(ifa.address) as Buffer), "10.1.0.5");
    assert.equal(addr({ op: "addr.add", dev: "eth0", cidr: "127.0.0.2/8" }).scope, 254);
    const p2p = addr({
      op: "addr.add",
      dev: "eth0",
      cidr: "10.1.0.5/32",
      peer: "169.254.1.1",
      scope: "link",
    });
    assert.equal(addressText(p2p.attrs.get(ifa.address) as Buffer), "169.254.1.1");
    assert.equal(p2p.scope, 253);
    const v6 = addr({ op: "addr.add", dev: "eth0", cidr: "fd00::5/64", noDad: true, noPrefixRoute: true });
    assert.deepEqual([v6.family, v6.len, v6.flags], [10, 64, 0]);
    assert.equal(v6.attrs.get(ifa.flags)?.readUInt32LE(0), 0x202);
    assert.equal(addr({ op: "addr.add", dev: "eth0", cidr: "fd00::5/64", noDad: true }).flags, 0x02);
    assert.equal(addr({ op: "addr.delete", dev: "eth0", cidr: "10.1.0.5/24" }).type, rtm.delAddr);
    assert.equal(encodeOp({ op: "addr.add", dev: "eth0", cidr: "10.1.0.5/33" }, ifindex, 1), undefined);
  });

  test("ops it does not carry are undefined; a missing device is MissingDevice", () => {
    assert.equal(encodeOp({ op: "link.set", name: "eth0", rename: "eth1" }, ifindex, 1), undefined);
    assert.equal(
      encodeOp({ op: "link.add", spec: { kind: "dummy", name: "a-name-too-long-0" } }, ifindex, 1),
      undefined,
    );
    assert.equal(
      encodeOp(
        { op: "link.add", spec: { kind: "vxlan", name: "vx0", vni: 1, port: 8472, learning: false } },
        ifindex,
        1,
      ),
      undefined,
    );
    // A veth whose peer goes elsewhere needs that namespace's descriptor: without one, iproute2's.
    const veth: KernelOp = {
      op: "link.add",
      spec: { kind: "veth", name: "v0", peer: { name: "eth0", netns: { kind: "named", name: "x" } } },
    };
    assert.equal(encodeOp(veth, ifindex, 1), undefined);
    assert.equal(
      encodeOp({ op: "route.add", route: { dst: "10.1.0.0/16", dev: "eth0", proto: "nope" } }, ifindex, 1),
      undefined,
    );
    assert.equal(
      encodeOp({ op: "route.add", route: { dst: "10.1.0.0/33", dev: "eth0" } }, ifindex, 1),
      undefined,
    );
    assert.throws(
      () => encodeOp({ op: "route.add", route: { dst: "10.1.0.0/16", dev: "nosuch" } }, ifindex, 1),
      MissingDevice,
    );
  });
});

describe("route dumps", () => {
  const route = (table: number, dst: string, len: number, flags = 0) =>
    message(
      rtm.newRoute,
      2,
      1,
      rtmsg({
        family: 2,
        dstLen: len,
        table: table > 255 ? 0 : table,
        protocol: 147,
        scope: 0,
        type: 1,
        flags,
      }),
      attrs([
        { type: rta.dst, data: addressBytes(dst) as Buffer },
        u32Attr(rta.oif, 2),
        ...(table > 255 ? [u32Attr(rta.table, table)] : []),
      ]),
    );
  const names = new Map([[2, "eth0"]]);

  test("main table unless asked; other tables named under 'all'; cloned entries left out", () => {
    const dump = Buffer.concat([
      route(254, "10.1.0.0", 16),
      route(1000, "10.2.0.0", 16),
      route(254, "10.3.0.0", 16, 0x200),
    ]);
    assert.deepEqual(
      decodeRoutes(dump, names).map((r) => [r.dst, r.dev, r.proto, r.table]),
      [["10.1.0.0/16", "eth0", "147", undefined]],
    );
    assert.deepEqual(
      decodeRoutes(dump, names, { table: "all" }).map((r) => [r.dst, r.table]),
      [
        ["10.1.0.0/16", undefined],
        ["10.2.0.0/16", 1000],
      ],
    );
    assert.deepEqual(decodeRoutes(dump, names, { dev: "eth1" }), []);
  });
});
