import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { TestNamespaces } from "../../../test/support/netns.js";
import { type KernelOp, type Netns, namedNetns, netnsAtPath } from "../api.js";
import { isKernelError } from "../errors.js";
import { createIproute2Kernel } from "../iproute2/index.js";
import { loadRtnetlinkAddon, withRtnetlink } from "./driver.js";

const addon = loadRtnetlinkAddon();

/** A node's devices (iproute2 in both namespaces): what the ops below route through. */
const devices: KernelOp[] = [
  { op: "link.add", spec: { kind: "veth", name: "u0", peer: { name: "u1" } } },
  { op: "link.set", name: "u0", up: true },
  { op: "link.set", name: "u1", up: true },
  { op: "addr.add", dev: "u0", cidr: "192.168.5.1/24" },
  { op: "addr.add", dev: "u0", cidr: "fd00:5::1/64", noDad: true },
  { op: "addr.add", dev: "u1", cidr: "fd00:6::1/64", noDad: true },
  {
    op: "link.add",
    spec: {
      kind: "vxlan",
      name: "vx0",
      vni: 1,
      port: 8472,
      learning: false,
      device: "u0",
      local: "192.168.5.1",
    },
  },
  { op: "link.set", name: "vx0", up: true },
  { op: "link.add", spec: { kind: "bridge", name: "br0" } },
  { op: "link.set", name: "br0", up: true },
];

/** What the agent's backends write: every route shape, neighbours, FDB entries, then removals. */
const changes: KernelOp[] = [
  {
    op: "route.add",
    route: { dst: "10.244.3.0/24", via: "192.168.5.3", dev: "u0", onlink: true, proto: "147" },
  },
  {
    op: "route.replace",
    route: { dst: "10.244.4.0/24", via: "192.168.5.4", proto: "147", mtu: 1400, metric: 5 },
  },
  {
    op: "route.replace",
    route: { dst: "10.244.5.0/24", via: "10.244.5.0", dev: "vx0", onlink: true, proto: "147" },
  },
  { op: "route.add", route: { dst: "fd00:10:244:3::/64", via: "fd00:5::3", dev: "u0", proto: "147" } },
  { op: "route.add", route: { dst: "10.9.0.0/16", dev: "u0", proto: "147" } },
  { op: "route.add", route: { dst: "10.9.1.7", dev: "u0", scope: "link", proto: "147" } },
  { op: "route.add", route: { dst: "10.9.2.0/24", dev: "br0", proto: "static", src: "192.168.5.1" } },
  { op: "route.add", route: { dst: "10.9.3.0/24", via: "192.168.5.9", table: 1000, proto: "147" } },
  { op: "route.add", route: { dst: "10.9.4.0/24", via: "fd00:5::9", dev: "u0", proto: "147", family: 4 } },
  {
    op: "route.add",
    route: {
      dst: "10.9.5.0/24",
      proto: "147",
      nexthops: [
        { via: "192.168.5.21", dev: "u0", weight: 2 },
        { via: "192.168.5.22", dev: "u0" },
      ],
    },
  },
  { op: "route.replace", route: { dst: "default", via: "fd00:6::2", family: 6, proto: "147" } },
  { op: "neigh.replace", dev: "u0", ip: "192.168.5.3", mac: "02:00:00:00:00:03" },
  { op: "neigh.replace", dev: "vx0", ip: "10.244.5.0", mac: "02:00:00:00:00:05" },
  { op: "neigh.replace", dev: "u0", ip: "fd00:5::3", mac: "02:00:00:00:00:33", permanent: false },
  { op: "fdb.append", entry: { dev: "vx0", mac: "00:00:00:00:00:00", dst: "192.168.5.3" } },
  { op: "fdb.append", entry: { dev: "vx0", mac: "00:00:00:00:00:00", dst: "192.168.5.4" } },
  { op: "fdb.replace", entry: { dev: "vx0", mac: "02:00:00:00:00:05", dst: "192.168.5.5" } },
  { op: "route.delete", route: { dst: "10.9.0.0/16", dev: "u0", proto: "147" } },
  { op: "route.delete", route: { dst: "10.244.3.0/24" }, ifPresent: true },
  { op: "route.delete", route: { dst: "10.250.0.0/16" }, ifPresent: true },
  { op: "neigh.delete", dev: "u0", ip: "192.168.5.3" },
  { op: "neigh.delete", dev: "u0", ip: "192.168.5.99", ifPresent: true },
  { op: "fdb.delete", entry: { dev: "vx0", mac: "00:00:00:00:00:00", dst: "192.168.5.4" } },
  { op: "route.add", route: { dst: "10.9.6.0/24", via: "192.168.5.6", proto: "147" }, ifAbsent: true },
  { op: "route.add", route: { dst: "10.9.6.0/24", via: "192.168.5.6", proto: "147" }, ifAbsent: true },
];

describe("rtnetlink kernel driver against iproute2, in real namespaces", {
  skip: !addon && "addon not built",
}, () => {
  const nss = new TestNamespaces("rtnl");
  const ip = createIproute2Kernel();
  const nl = withRtnetlink(ip, addon);
  after(() => nss.cleanup());

  // Two namespaces' tables compared as sets: the kernel lists its own IPv6 link-local routes
  // (fe80::/64 on each link) in the order the links came up, which is not the ops' order.
  const byDstDev = (a: { dst: string; dev?: string }, b: { dst: string; dev?: string }) =>
    a.dst.localeCompare(b.dst) || (a.dev ?? "").localeCompare(b.dev ?? "");
  const state = async (ns: Netns) => ({
    routes4: await ip.routes(ns, { family: 4, table: "all" }),
    routes6: [...(await ip.routes(ns, { family: 6 }))].sort(byDstDev),
    neigh: (await ip.neighbours(ns)).filter((n) => n.state === "PERMANENT" || n.state === "REACHABLE"),
    fdb: (await ip.fdb(ns, "vx0")).filter((e) => e.dst !== undefined),
  });

  test("the same ops leave the same routes, neighbours and FDB entries as iproute2 does; reads agree", async () => {
    const a = namedNetns(nss.create("a"));
    const b = netnsAtPath(nss.path(nss.create("b")));
    for (const ns of [a, b]) await ip.apply(ns, devices);
    await ip.apply(a, changes);
    await nl.apply(b, changes);
    const [sa, sb] = [await state(a), await state(b)];
    assert.ok(sa.routes4.some((r) => r.dst === "10.9.5.0/24" && r.nexthops?.length === 2));
    assert.ok(sa.fdb.length >= 2);
    assert.deepEqual(sb, sa);
    // Reads: rtnetlink's routes are iproute2's, for every query shape the agent uses. The kernel
    // adds IPv6 link-local routes a moment after a link comes up (and may between the two reads):
    // the two must agree once they are read while nothing changes.
    for (const ns of [a, b])
      for (const q of [
        {},
        { family: 4 as const },
        { family: 6 as const },
        { table: "all" as const },
        { dev: "u0" },
      ]) {
        let pair = [await nl.routes(ns, q), await ip.routes(ns, q)];
        for (let i = 0; i < 20 && !isDeepStrictEqual(pair[0], pair[1]); i++) {
          await new Promise((r) => setTimeout(r, 100));
          pair = [await nl.routes(ns, q), await ip.routes(ns, q)];
        }
        assert.deepEqual(pair[0], pair[1], JSON.stringify(q));
      }
  });

  test("links made earlier in the same apply are found; a failure names its op's index in the caller's list", async () => {
    const ns = namedNetns(nss.create("c"));
    await nl.apply(ns, [
      ...devices,
      { op: "route.add", route: { dst: "10.1.0.0/16", dev: "br0", proto: "147" } },
      { op: "link.add", spec: { kind: "bridge", name: "br1" } },
      { op: "link.set", name: "br1", up: true },
      { op: "route.add", route: { dst: "10.2.0.0/16", dev: "br1", proto: "147" } },
    ]);
    assert.deepEqual(
      (await ip.routes(ns, { family: 4 })).filter((r) => r.proto === "147").map((r) => [r.dst, r.dev]),
      [
        ["10.1.0.0/16", "br0"],
        ["10.2.0.0/16", "br1"],
      ],
    );
    const ops: KernelOp[] = [
      { op: "route.add", route: { dst: "10.3.0.0/16", dev: "br0", proto: "147" } },
      { op: "link.add", spec: { kind: "bridge", name: "br2" } },
      { op: "route.add", route: { dst: "10.1.0.0/16", dev: "br0", proto: "147" } },
      { op: "route.add", route: { dst: "10.4.0.0/16", dev: "br0", proto: "147" } },
    ];
    await assert.rejects(nl.apply(ns, ops), (err) => {
      assert.ok(isKernelError(err, "exists"), String(err));
      assert.equal(err.failedOpIndex, 2);
      assert.match(
        err.message,
        /ip route add 10\.1\.0\.0\/16 dev br0 proto 147\): RTNETLINK answers: File exists/,
      );
      return true;
    });
    // Ops before the failure stay applied; none after it ran.
    const dsts = (await ip.routes(ns, { family: 4 })).map((r) => r.dst);
    assert.ok(dsts.includes("10.3.0.0/16"));
    assert.ok(!dsts.includes("10.4.0.0/16"));
    assert.ok(await ip.link(ns, "br2"));
    // A device that is not there: iproute2's error kind and words.
    await assert.rejects(
      nl.apply(ns, [
        { op: "link.add", spec: { kind: "bridge", name: "br3" } },
        { op: "route.add", route: { dst: "10.5.0.0/16", dev: "nosuch", proto: "147" } },
      ]),
      (err) =>
        isKernelError(err, "not-found") &&
        err.failedOpIndex === 1 &&
        /Cannot find device "nosuch"/.test(err.message),
    );
    await assert.rejects(
      nl.apply(ns, [{ op: "link.add", spec: { kind: "bridge", name: "br0" } }]),
      (err) => isKernelError(err, "exists") && err.failedOpIndex === 0,
    );
    await assert.rejects(nl.routes(ns, { dev: "nosuch" }), (err) => isKernelError(err, "not-found"));
    // An unknown protocol name is not guessed: the op goes to iproute2, which refuses it.
    await assert.rejects(
      nl.apply(ns, [{ op: "route.add", route: { dst: "10.6.0.0/16", dev: "br0", proto: "no-such-proto" } }]),
      (err) => isKernelError(err) && /ip route add 10\.6\.0\.0\/16/.test(err.message),
    );
  });

  test("a namespace that does not exist is an error, not the caller's own namespace", async () => {
    await assert.rejects(
      nl.apply(namedNetns("strata-t-rtnl-absent"), [
        { op: "route.add", route: { dst: "10.7.0.0/16", dev: "lo", proto: "147" } },
      ]),
      /strata-t-rtnl-absent/,
    );
  });
});
