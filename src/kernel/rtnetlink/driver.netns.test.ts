import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { after, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { TestNamespaces, testNetnsPrefix } from "../../../test/support/netns.js";
import { recordingIproute2Kernel } from "../../../test/support/recording-kernel.js";
import { eventually } from "../../common/eventually.js";
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

  test("links and addresses: the same ops leave the same devices and addresses as iproute2 does", async () => {
    // A pod's wiring as the strata plugin writes it: a veth pair with its pod end made inside
    // the pod's namespace, enslaved and up, addresses and routes on both sides; then removals.
    const pair = (x: string) => {
      const node = namedNetns(nss.create(`l${x}`));
      const pod = netnsAtPath(nss.path(nss.create(`p${x}`)));
      return { node, pod };
    };
    const [a, b] = [pair("a"), pair("b")];
    const nodeOps = (pod: Netns): KernelOp[] => [
      {
        op: "link.add",
        spec: { kind: "bridge", name: "cni0", mtu: 1450, mac: "02:aa:00:00:00:01" },
        ifAbsent: true,
      },
      { op: "link.add", spec: { kind: "bridge", name: "cni0" }, ifAbsent: true },
      { op: "link.set", name: "cni0", up: true },
      {
        op: "link.add",
        spec: {
          kind: "veth",
          name: "veth1234",
          mtu: 1450,
          mac: "02:bb:00:00:00:01",
          peer: { name: "eth0", netns: pod, mtu: 1450, mac: "02:cc:00:00:00:01" },
        },
      },
      { op: "link.set", name: "veth1234", master: "cni0", up: true },
      {
        op: "link.add",
        spec: { kind: "veth", name: "d0", mtu: 1400, peer: { name: "d0p", mac: "02:dd:00:00:00:02" } },
      },
      { op: "link.set", name: "d0", mtu: 1300, mac: "02:dd:00:00:00:01", up: true },
      { op: "link.set", name: "d0", up: false },
      { op: "addr.add", dev: "cni0", cidr: "10.244.1.1/24", ifAbsent: true },
      { op: "addr.add", dev: "cni0", cidr: "10.244.1.1/24", ifAbsent: true },
      { op: "addr.add", dev: "cni0", cidr: "fd00:1::1/64", noDad: true, noPrefixRoute: true },
      { op: "addr.add", dev: "d0", cidr: "10.9.0.1/32", peer: "169.254.1.1", scope: "link" },
      { op: "addr.add", dev: "lo", cidr: "127.0.0.2/8" },
      { op: "addr.add", dev: "d0", cidr: "10.9.0.7/32" },
      { op: "addr.delete", dev: "d0", cidr: "10.9.0.7/32" },
      { op: "addr.delete", dev: "d0", cidr: "10.9.0.8/32", ifPresent: true },
      { op: "link.add", spec: { kind: "veth", name: "d1", peer: { name: "d1p" } } },
      { op: "link.set", name: "d1", master: "cni0" },
      { op: "link.set", name: "d1", master: null },
      { op: "link.delete", name: "d1" },
      { op: "link.delete", name: "d1", ifPresent: true },
    ];
    const podOps: KernelOp[] = [
      { op: "addr.add", dev: "eth0", cidr: "10.244.1.5/24" },
      { op: "addr.add", dev: "eth0", cidr: "fd00:1::5/64", noDad: true },
      { op: "link.set", name: "eth0", up: true },
      { op: "route.replace", route: { dst: "default", via: "10.244.1.1", dev: "eth0" } },
    ];
    await ip.apply(a.node, nodeOps(a.pod));
    await ip.apply(a.pod, podOps);
    // Through rtnetlink, a pod's wiring runs no program at all (each was a process per ADD).
    const { kernel: recorded, programs } = recordingIproute2Kernel();
    const counted = withRtnetlink(recorded, addon);
    await counted.apply(b.node, nodeOps(b.pod));
    await counted.apply(b.pod, podOps);
    assert.deepEqual(programs, []);
    const seen = async (ns: Netns) => ({
      links: (await ip.links(ns)).map(({ index, peerIndex, peerNetnsId, operState, ...l }) => l),
      addresses: await ip.addresses(ns),
      routes4: await ip.routes(ns, { family: 4, table: "all" }),
    });
    for (const side of ["node", "pod"] as const) {
      const [sa, sb] = [await seen(a[side]), await seen(b[side])];
      assert.ok(sa.links.length >= 2, side);
      assert.deepEqual(sb, sa, side);
    }
    // Errors as iproute2's: kind, the op's index, nothing after it applied.
    await assert.rejects(
      nl.apply(b.node, [
        { op: "link.add", spec: { kind: "bridge", name: "d2" } },
        { op: "link.add", spec: { kind: "veth", name: "veth1234", peer: { name: "x1" } } },
        { op: "link.add", spec: { kind: "bridge", name: "d3" } },
      ]),
      (err) => isKernelError(err, "exists") && err.failedOpIndex === 1,
    );
    assert.ok(await ip.link(b.node, "d2"));
    assert.equal(await ip.link(b.node, "d3"), undefined);
    for (const ops of [
      [{ op: "link.set", name: "nosuch", up: true }],
      [{ op: "link.set", name: "d0", master: "nosuch" }],
      [{ op: "addr.add", dev: "nosuch", cidr: "10.1.1.1/24" }],
      [{ op: "link.delete", name: "nosuch" }],
      [{ op: "addr.delete", dev: "d0", cidr: "10.9.9.9/32" }],
      [
        {
          op: "link.add",
          spec: {
            kind: "veth",
            name: "v9",
            peer: { name: "eth9", netns: netnsAtPath("/run/netns/strata-t-rtnl-nosuch") },
          },
        },
      ],
    ] as KernelOp[][]) {
      const kinds = [];
      for (const k of [ip, nl])
        kinds.push(
          await k.apply(b.node, ops).then(
            () => "applied",
            (err) => isKernelError(err) && err.kind,
          ),
        );
      assert.deepEqual(kinds, [kinds[0], kinds[0]], JSON.stringify(ops));
      assert.ok(kinds[0] === "not-found" || kinds[0] === "invalid", JSON.stringify(ops));
    }
    assert.equal(await ip.link(b.node, "v9"), undefined);
  });

  test("named namespaces are made without a process, as `ip netns add` makes them", async () => {
    const { kernel: recorded, programs } = recordingIproute2Kernel();
    const counted = withRtnetlink(recorded, addon);
    const name = `${testNetnsPrefix}rtnl-made-${randomBytes(3).toString("hex")}`;
    nss.names.push(name); // removed with the others
    await counted.netns.create(name);
    assert.deepEqual(programs, []);
    // A namespace of its own (not ours), listed and entered by iproute2, with only a loopback.
    assert.ok((await ip.netns.list()).includes(name));
    assert.notEqual(statSync(nss.path(name)).ino, statSync("/proc/self/ns/net").ino);
    assert.deepEqual(
      (await ip.links(namedNetns(name))).map((l) => [l.name, l.up]),
      [["lo", false]],
    );
    assert.equal(
      execFileSync("ip", ["netns", "exec", name, "ip", "-o", "link", "show"], { encoding: "utf8" })
        .split("\n")
        .filter(Boolean).length,
      1,
    );
    // Made twice: iproute2's kind, unless asked to tolerate it; the namespace is untouched.
    await assert.rejects(counted.netns.create(name), (err) => isKernelError(err, "exists"));
    await counted.netns.create(name, { ifAbsent: true });
    await ip.apply(namedNetns(name), [{ op: "link.set", name: "lo", up: true }]);
    assert.equal((await ip.link(namedNetns(name), "lo"))?.up, true);
    // A pod's namespace made this way takes a veth end, and goes with `ip netns del`.
    const node = namedNetns(nss.create("made-node"));
    await counted.apply(node, [
      {
        op: "link.add",
        spec: { kind: "veth", name: "vm0", peer: { name: "eth0", netns: namedNetns(name) } },
      },
    ]);
    assert.ok(await ip.link(namedNetns(name), "eth0"));
    assert.deepEqual(programs, []);
    await ip.netns.delete(name);
    assert.equal(existsSync(nss.path(name)), false);
    // The kernel frees a namespace (and with it the veth pair) from a work queue after its last
    // reference goes, not within `ip netns del`: wait for it, so a namespace kept alive (a file
    // descriptor left open by the addon) still fails here.
    await eventually(
      async () => (await ip.link(node, "vm0")) === undefined,
      "vm0 to go with the pod's namespace",
      {
        timeoutMs: 5_000,
        intervalMs: 20,
      },
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
