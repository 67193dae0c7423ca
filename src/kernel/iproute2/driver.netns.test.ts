import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { TestNamespaces, testNetnsPrefix } from "../../../test/support/netns.js";
import { type Netns, namedNetns, netnsAtPath } from "../api.js";
import { isKernelError } from "../errors.js";
import { createIproute2Kernel } from "./index.js";

describe("iproute2 kernel driver in real namespaces", () => {
  const nss = new TestNamespaces("kern");
  const k = createIproute2Kernel();
  after(() => nss.cleanup());

  test("probe: built-in link kinds are found, missing ones reported (no modules here)", async () => {
    const caps = await k.probe();
    for (const kind of ["veth", "bridge", "vxlan", "macvlan", "tun", "tap"] as const)
      assert.equal(caps.linkKinds[kind], true, kind);
    // These are absent from this machine's kernel; the probe must say so rather than fail.
    for (const kind of ["ipip", "gre", "ipvlan", "vlan", "wireguard", "dummy"] as const) {
      assert.equal(typeof caps.linkKinds[kind], "boolean", kind);
    }
    assert.equal(caps.iptables || caps.nftables, true);
  });

  test("bridge, veth into another namespace by path, addresses, routes, sysctl; idempotent re-apply", async () => {
    const host = namedNetns(nss.create("h"));
    const podName = nss.create("p");
    const pod: Netns = netnsAtPath(nss.path(podName));
    const ops = [
      { op: "link.add", spec: { kind: "bridge", name: "br0", mtu: 1400 }, ifAbsent: true },
      { op: "link.set", name: "br0", up: true },
      { op: "addr.add", dev: "br0", cidr: "10.9.0.1/24", ifAbsent: true },
      {
        op: "link.add",
        spec: { kind: "veth", name: "h0", mtu: 1400, peer: { name: "eth0", mtu: 1400, netns: pod } },
        ifAbsent: true,
      },
      { op: "link.set", name: "h0", master: "br0", up: true },
      { op: "sysctl.set", key: "net/ipv4/conf/br0/forwarding", value: "1" },
    ] as const;
    await k.apply(host, ops);
    await k.apply(host, ops); // idempotent: everything already there
    await k.apply(pod, [
      { op: "addr.add", dev: "eth0", cidr: "10.9.0.2/24" },
      { op: "link.set", name: "eth0", up: true },
      { op: "route.replace", route: { dst: "default", via: "10.9.0.1" } },
    ]);
    const h0 = await k.link(host, "h0");
    assert.equal(h0?.master, "br0");
    assert.equal(h0?.kind, "veth");
    assert.equal((await k.link(pod, "eth0"))?.mtu, 1400);
    assert.deepEqual(
      (await k.addresses(pod, "eth0")).filter((a) => a.family === 4).map((a) => a.cidr),
      ["10.9.0.2/24"],
    );
    const routes = await k.routes(pod, { family: 4 });
    assert.ok(routes.some((r) => r.dst === "default" && r.via === "10.9.0.1"));
    assert.equal(await k.sysctl(host, "net/ipv4/conf/br0/forwarding"), "1");
    const ping = await k.exec(pod, ["ping", "-c", "1", "-W", "2", "10.9.0.1"]);
    assert.equal(ping.code, 0, ping.stderr);
  });

  test("typed errors: exists, not-found, unsupported; ifPresent deletes of absent things succeed", async () => {
    const ns = namedNetns(nss.create("e"));
    await k.apply(ns, [{ op: "link.add", spec: { kind: "bridge", name: "br0" } }]);
    await assert.rejects(k.apply(ns, [{ op: "link.add", spec: { kind: "bridge", name: "br0" } }]), (e) =>
      isKernelError(e, "exists"),
    );
    await assert.rejects(k.apply(ns, [{ op: "link.set", name: "nope", up: true }]), (e) =>
      isKernelError(e, "not-found"),
    );
    await k.apply(ns, [
      { op: "link.delete", name: "nope", ifPresent: true },
      { op: "route.delete", route: { dst: "10.99.0.0/16" }, ifPresent: true },
      { op: "neigh.delete", dev: "br0", ip: "10.99.0.1", ifPresent: true },
      { op: "addr.delete", dev: "br0", cidr: "10.99.0.1/24", ifPresent: true },
    ]);
    const caps = await k.probe();
    if (!caps.linkKinds.ipip) {
      await assert.rejects(
        k.apply(ns, [{ op: "link.add", spec: { kind: "ipip", name: "t0", remote: "192.0.2.1" } }]),
        (e) => isKernelError(e, "unsupported") && /no "ipip" link type/.test(e.message),
      );
    }
    await assert.rejects(
      k.apply(namedNetns("strata-t-missing-ns"), [{ op: "link.set", name: "lo", up: true }]),
      (e) => isKernelError(e, "not-found"),
    );
    assert.equal(await k.link(ns, "nothere"), undefined);
  });

  test("a failure in the middle of a batch stops there and names the failing op", async () => {
    const ns = namedNetns(nss.create("b"));
    await assert.rejects(
      k.apply(ns, [
        { op: "link.add", spec: { kind: "bridge", name: "br1" } },
        { op: "addr.add", dev: "missing0", cidr: "10.1.1.1/24" },
        { op: "link.add", spec: { kind: "bridge", name: "br2" } },
      ]),
      (e) => isKernelError(e, "not-found") && e.operation.startsWith("addr.add"),
    );
    assert.ok(await k.link(ns, "br1"), "ops before the failure stay applied");
    assert.equal(await k.link(ns, "br2"), undefined, "ops after the failure do not run");
  });

  test("vxlan device, permanent neighbour, FDB entry, onlink route and multipath route", async () => {
    const ns = namedNetns(nss.create("v"));
    await k.apply(ns, [
      { op: "link.add", spec: { kind: "veth", name: "u0", peer: { name: "u1" } } },
      { op: "addr.add", dev: "u0", cidr: "192.168.5.1/24" },
      { op: "link.set", name: "u0", up: true },
      { op: "link.set", name: "u1", up: true },
      {
        op: "link.add",
        spec: {
          kind: "vxlan",
          name: "strata.1",
          vni: 1,
          port: 8472,
          local: "192.168.5.1",
          device: "u0",
          learning: false,
          mtu: 1450,
        },
      },
      { op: "link.set", name: "strata.1", up: true },
      { op: "neigh.replace", dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02", permanent: true },
      {
        op: "fdb.append",
        entry: { dev: "strata.1", mac: "02:00:00:00:00:02", dst: "192.168.5.2", self: true, permanent: true },
      },
      {
        op: "route.replace",
        route: { dst: "10.244.2.0/24", via: "10.244.2.0", dev: "strata.1", onlink: true, proto: "147" },
      },
      {
        op: "route.replace",
        route: {
          dst: "10.77.0.0/16",
          nexthops: [
            { via: "192.168.5.2", dev: "u0", weight: 1 },
            { via: "192.168.5.3", dev: "u0", weight: 3 },
          ],
        },
      },
    ]);
    const vx = await k.link(ns, "strata.1");
    assert.deepEqual(vx?.vxlan, { vni: 1, port: 8472, local: "192.168.5.1", learning: false });
    assert.equal(vx?.mtu, 1450);
    assert.deepEqual(await k.neighbours(ns, "strata.1"), [
      { dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02", state: "PERMANENT" },
    ]);
    const fdb = await k.fdb(ns, "strata.1");
    assert.ok(
      fdb.some((e) => e.mac === "02:00:00:00:00:02" && e.dst === "192.168.5.2" && e.dev === "strata.1"),
    );
    const routes = await k.routes(ns, { family: 4 });
    const r = routes.find((x) => x.dst === "10.244.2.0/24");
    assert.equal(r?.onlink, true);
    assert.equal(r?.proto, "147");
    const mp = routes.find((x) => x.dst === "10.77.0.0/16");
    assert.deepEqual(
      mp?.nexthops?.map((n) => n.weight),
      [1, 3],
    );
    await k.apply(ns, [
      {
        op: "fdb.delete",
        entry: { dev: "strata.1", mac: "02:00:00:00:00:02", dst: "192.168.5.2", self: true },
      },
      { op: "neigh.delete", dev: "strata.1", ip: "10.244.2.0" },
      // `ip neigh` exits without naming the failed batch line: this tolerated failure must not
      // be blamed on the delete before it (which succeeded).
      { op: "neigh.delete", dev: "strata.1", ip: "10.244.9.0", ifPresent: true },
    ]);
    assert.deepEqual(await k.neighbours(ns, "strata.1"), []);
    // A batch of neighbour replaces whose second fails: the failure is that op's, not the first's.
    await assert.rejects(
      k.apply(ns, [
        { op: "neigh.replace", dev: "strata.1", ip: "10.244.3.0", mac: "02:00:00:00:00:03", permanent: true },
        { op: "neigh.replace", dev: "nosuch0", ip: "10.244.4.0", mac: "02:00:00:00:00:04", permanent: true },
        { op: "neigh.replace", dev: "strata.1", ip: "10.244.5.0", mac: "02:00:00:00:00:05", permanent: true },
      ]),
      (e) => isKernelError(e) && e.failedOpIndex === 1,
    );
    assert.deepEqual(
      (await k.neighbours(ns, "strata.1")).map((n) => n.ip),
      ["10.244.3.0"],
    );
  });

  test("namespace control is idempotent where asked", async () => {
    const name = `${testNetnsPrefix}kern-ctl-${process.pid}`;
    try {
      await k.netns.create(name);
      await k.netns.create(name, { ifAbsent: true });
      await assert.rejects(k.netns.create(name), (e) => isKernelError(e, "exists"));
      assert.ok((await k.netns.list()).includes(name));
      assert.equal(await k.netns.exists(namedNetns(name)), true);
    } finally {
      await k.netns.delete(name, { ifPresent: true });
    }
    await k.netns.delete(name, { ifPresent: true });
    assert.equal(await k.netns.exists(namedNetns(name)), false);
  });
});
