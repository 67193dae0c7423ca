import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { TestNamespaces } from "../../../test/support/netns.js";
import { recordingIproute2Kernel } from "../../../test/support/recording-kernel.js";
import { currentNetns, type Kernel, type KernelOp, type Netns, namedNetns, netnsAtPath } from "../api.js";
import { isKernelError, type KernelError } from "../errors.js";
import { loadRtnetlinkAddon, withRtnetlink } from "./driver.js";

const addon = loadRtnetlinkAddon();

/**
 * The rtnetlink driver's reads (links, one link, addresses) and native sysctls against the
 * iproute2 driver's, on the same namespaces: the same answers, the same error kinds, and no
 * process started for them.
 */
describe("rtnetlink reads and native sysctls against iproute2, in real namespaces", {
  skip: !addon && "addon not built",
}, () => {
  const nss = new TestNamespaces("nlrd");
  /** Every program the iproute2 driver starts, for the rtnetlink driver's reads to start none. */
  const { kernel: ip, programs: spawned } = recordingIproute2Kernel();
  const nl: Kernel = withRtnetlink(ip, addon);
  let a: Netns;
  let aByPath: Netns;
  let b: Netns;

  before(async () => {
    const aName = nss.create("a");
    const bName = nss.create("b");
    a = namedNetns(aName);
    aByPath = netnsAtPath(nss.path(aName));
    b = namedNetns(bName);
    const ops: KernelOp[] = [
      { op: "link.add", spec: { kind: "veth", name: "u0", peer: { name: "u1" } } },
      { op: "link.add", spec: { kind: "veth", name: "p0", mtu: 1400, peer: { name: "p1", netns: b } } },
      { op: "link.add", spec: { kind: "bridge", name: "br0" } },
      { op: "link.set", name: "u1", master: "br0", up: true },
      { op: "link.set", name: "u0", up: true },
      { op: "link.set", name: "br0", up: true },
      {
        op: "link.add",
        spec: {
          kind: "vxlan",
          name: "vx0",
          vni: 5,
          port: 8472,
          learning: false,
          local: "192.168.5.1",
          device: "u0",
        },
      },
      {
        op: "link.add",
        spec: { kind: "vxlan", name: "vx1", vni: 6, port: 4789, learning: true, local: "fd00::1" },
      },
      { op: "link.set", name: "vx0", up: true },
      { op: "link.add", spec: { kind: "macvlan", name: "mv0", parent: "u0", mode: "private" } },
      { op: "link.add", spec: { kind: "tun", name: "t0" } },
      { op: "link.add", spec: { kind: "tap", name: "t1", mtu: 9000 } },
      { op: "addr.add", dev: "u0", cidr: "192.168.5.1/24" },
      { op: "addr.add", dev: "u0", cidr: "192.168.6.1/24" },
      { op: "addr.add", dev: "u0", cidr: "fd00:5::1/64", noDad: true },
      { op: "addr.add", dev: "u0", cidr: "10.0.0.1/32", peer: "10.0.0.2" },
      { op: "addr.add", dev: "br0", cidr: "10.1.0.1/16", scope: "link" },
      { op: "addr.add", dev: "br0", cidr: "fd00:6::1/64", noDad: true },
    ];
    await ip.apply(a, ops);
    // A macvlan made in b on p1, moved into a: its parent is in another namespace.
    await ip.apply(b, [
      { op: "link.add", spec: { kind: "macvlan", name: "mv1", parent: "p1", mode: "bridge" } },
      { op: "link.set", name: "mv1", netns: a },
    ]);
  });
  after(() => nss.cleanup());

  /** The two drivers' answers, read again while the kernel adds IPv6 link-local addresses. */
  async function agree<T>(read: (k: Kernel) => Promise<T>, what: string): Promise<T> {
    const once = async () => [await read(nl), await read(ip)] as const;
    let pair = await once();
    for (let i = 0; i < 30 && !isDeepStrictEqual(pair[0], pair[1]); i++) {
      await new Promise((r) => setTimeout(r, 100));
      pair = await once();
    }
    assert.deepStrictEqual(pair[0], pair[1], what);
    return pair[0];
  }

  /** The error of each driver's call, compared by kind (and failedOpIndex for writes). */
  async function sameFailure(call: (k: Kernel) => Promise<unknown>, what: string): Promise<KernelError> {
    const failure = async (k: Kernel) => {
      try {
        await call(k);
      } catch (err) {
        return err;
      }
      assert.fail(`${what}: did not fail`);
    };
    const [x, y] = [await failure(nl), await failure(ip)];
    assert.ok(isKernelError(x), `${what}: ${String(x)}`);
    assert.ok(isKernelError(y), `${what}: ${String(y)}`);
    assert.equal(x.kind, y.kind, `${what}: ${x.message} | ${y.message}`);
    assert.equal(x.failedOpIndex, y.failedOpIndex, what);
    return x;
  }

  test("links: every field of veth, bridge port, VXLAN, macvlan, tun and tap as iproute2 reads them", async () => {
    for (const ns of [a, aByPath, b]) {
      const links = await agree((k) => k.links(ns), `links of ${JSON.stringify(ns)}`);
      for (const l of links) await agree((k) => k.link(ns, l.name), `link ${l.name}`);
    }
    const links = await nl.links(a);
    const byName = new Map(links.map((l) => [l.name, l]));
    // What the agreement is on: each kind's fields (so both cannot be wrong alike unnoticed).
    assert.equal(byName.get("u1")?.master, "br0");
    assert.equal(byName.get("u1")?.kind, "veth");
    assert.equal(byName.get("p0")?.peerNetnsId, 0);
    assert.equal(byName.get("p0")?.peerIndex, (await ip.link(b, "p1"))?.index);
    assert.equal(byName.get("p0")?.mtu, 1400);
    assert.equal(byName.get("br0")?.up, true);
    assert.equal(byName.get("vx0")?.up, true);
    assert.equal(byName.get("vx0")?.operState, "UNKNOWN");
    assert.deepEqual(byName.get("vx0")?.vxlan, { vni: 5, port: 8472, local: "192.168.5.1", learning: false });
    assert.deepEqual(byName.get("vx1")?.vxlan, { vni: 6, port: 4789, local: undefined, learning: true });
    assert.deepEqual(byName.get("mv0")?.macvlan, { mode: "private", parent: "u0" });
    assert.deepEqual(byName.get("mv1")?.macvlan, { mode: "bridge", parent: undefined });
    assert.deepEqual(byName.get("t0")?.tun, { type: "tun" });
    assert.deepEqual(byName.get("t1")?.tun, { type: "tap" });
    assert.equal(byName.get("t1")?.mtu, 9000);
    assert.equal(byName.get("t0")?.mac, undefined);
    // Absent names: undefined from both, whatever the name.
    for (const name of ["nosuch", "", "a-name-too-long-for-a-link", "u0 ", "if1"])
      assert.deepEqual([await nl.link(a, name), await ip.link(a, name)], [undefined, undefined], name);
  });

  test("addresses: IPv4 and IPv6, every scope, all links or one, as iproute2 reads them", async () => {
    for (const ns of [a, aByPath, b]) {
      const all = await agree((k) => k.addresses(ns), `addresses of ${JSON.stringify(ns)}`);
      for (const dev of new Set(all.map((x) => x.dev)))
        await agree((k) => k.addresses(ns, dev), `addresses of ${dev}`);
    }
    const u0 = (await nl.addresses(a, "u0")).map((x) => [x.family, x.cidr, x.scope]);
    assert.deepEqual(u0.slice(0, 4), [
      [4, "192.168.5.1/24", "global"],
      [4, "192.168.6.1/24", "global"],
      [4, "10.0.0.1/32", "global"],
      [6, "fd00:5::1/64", "global"],
    ]);
    assert.deepEqual(
      (await nl.addresses(a, "br0")).slice(0, 2).map((x) => x.scope),
      ["link", "global"],
    );
    assert.deepEqual(
      (await nl.addresses(a, "lo")).map((x) => x.cidr),
      ["127.0.0.1/8", "::1/128"],
    );
    const e = await sameFailure((k) => k.addresses(a, "nosuch"), "addresses of a missing device");
    assert.equal(e.kind, "not-found");
    // A namespace that is not there: an error (not-found), never undefined or the caller's own.
    const absent = namedNetns("strata-t-nlrd-absent");
    for (const [what, call] of [
      ["links", (k: Kernel) => k.links(absent)],
      ["link", (k: Kernel) => k.link(absent, "lo")],
      ["addresses", (k: Kernel) => k.addresses(absent)],
      ["addresses of lo", (k: Kernel) => k.addresses(absent, "lo")],
    ] as const)
      assert.equal((await sameFailure(call, `${what} in a missing namespace`)).kind, "not-found");
  });

  test("sysctls: read and written natively, the same values and the same failures as iproute2", async () => {
    const forwarding = "net/ipv4/conf/u0/forwarding";
    for (const key of [
      "net.ipv4.ip_forward",
      forwarding,
      "net/ipv6/conf/br0/disable_ipv6",
      "net.core.somaxconn",
    ])
      for (const ns of [a, aByPath]) await agree((k) => k.sysctl(ns, key), key);
    // The caller's own namespace (read only): the base's own file read, in both.
    for (const key of ["net.ipv4.ip_forward", "net.core.somaxconn"])
      await agree((k) => k.sysctl(currentNetns, key), key);
    await nl.apply(aByPath, [
      { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
      { op: "route.add", route: { dst: "10.9.0.0/16", dev: "u0", proto: "147" } },
      { op: "sysctl.set", key: forwarding, value: "0" },
      { op: "sysctl.set", key: "net/ipv6/conf/br0/disable_ipv6", value: "1" },
    ]);
    // Written in a, read back by iproute2; b (another namespace) untouched.
    assert.equal(await ip.sysctl(a, "net.ipv4.ip_forward"), "1");
    assert.equal(await ip.sysctl(a, forwarding), "0");
    assert.equal(await ip.sysctl(a, "net/ipv6/conf/br0/disable_ipv6"), "1");
    assert.equal(await ip.sysctl(b, "net.ipv4.ip_forward"), "0");
    assert.ok((await ip.routes(a)).some((r) => r.dst === "10.9.0.0/16"));
    await nl.apply(a, [{ op: "sysctl.set", key: "net.ipv4.ip_forward", value: "0" }]);
    assert.equal(await ip.sysctl(a, "net.ipv4.ip_forward"), "0");

    // Failures: the same kinds (and op indexes) from both drivers.
    const read = await sameFailure((k) => k.sysctl(a, "net.ipv4.nosuch"), "reading a missing key");
    assert.equal(read.kind, "not-found");
    await sameFailure((k) => k.sysctl(a, "net/ipv4/conf"), "reading a directory");
    await sameFailure((k) => k.sysctl(a, "net/ipv4/route/flush"), "reading a write-only key");
    await sameFailure(
      (k) => k.sysctl(namedNetns("strata-t-nlrd-absent"), "net.ipv4.ip_forward"),
      "no namespace",
    );
    for (const ns of [a, b]) {
      const missing = await sameFailure(
        (k) =>
          k.apply(ns, [
            { op: "sysctl.set", key: "net/ipv6/conf/all/forwarding", value: "1" },
            { op: "sysctl.set", key: "net.ipv4.nosuch", value: "1" },
            { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
          ]),
        "writing a missing key",
      );
      assert.equal(missing.failedOpIndex, 1);
      assert.match(missing.message, /net\/ipv4\/nosuch/);
      // The write before the failure was made, the one after it was not.
      assert.equal(await ip.sysctl(ns, "net/ipv6/conf/all/forwarding"), "1");
      assert.equal(await ip.sysctl(ns, "net.ipv4.ip_forward"), "0");
    }
    await sameFailure(
      (k) =>
        k.apply(a, [
          { op: "route.add", route: { dst: "10.8.0.0/16", dev: "u0", proto: "147" }, ifAbsent: true },
          { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "not-a-number" },
        ]),
      "writing a value the kernel refuses",
    );
    await sameFailure(
      (k) => k.apply(a, [{ op: "sysctl.set", key: "net/nosuchdir/x", value: "1" }]),
      "writing under a missing directory",
    );
    await sameFailure(
      (k) =>
        k.apply(namedNetns("strata-t-nlrd-absent"), [
          { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
        ]),
      "writing in a missing namespace",
    );
    for (const k of [nl, ip]) {
      await assert.rejects(k.sysctl(a, "net/../../kernel/hostname"), RangeError);
      await assert.rejects(
        k.apply(a, [
          { op: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
          { op: "sysctl.set", key: "net//x", value: "1" },
        ]),
        RangeError,
      );
    }
    assert.equal(
      await ip.sysctl(a, "net.ipv4.ip_forward"),
      "0",
      "a key that is not one stops the list before it runs",
    );
  });

  test("the reads and sysctls start no process", async () => {
    spawned.length = 0;
    await nl.links(a);
    await nl.link(a, "u1");
    await nl.link(a, "nosuch");
    await nl.addresses(a);
    await nl.addresses(aByPath, "u0");
    await nl.sysctl(a, "net.ipv4.ip_forward");
    await nl.apply(aByPath, [{ op: "sysctl.set", key: "net.ipv4.ip_forward", value: "0" }]);
    assert.deepEqual(spawned, []);
  });
});
