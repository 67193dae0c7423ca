import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { classifyError } from "./classify.js";
import { ipNetnsArgs } from "./netns-args.js";
import { batchLine, renderOp, sysctlPath } from "./render.js";

const args = (op: Parameters<typeof renderOp>[0]) => renderOp(op).map((r) => `${r.tool} ${r.args.join(" ")}`);

describe("iproute2 renderer", () => {
  test("link.offload is one ethtool -K with the features given, in tso, gso, gro order; none given, nothing", () => {
    assert.deepEqual(args({ op: "link.offload", name: "p-n1", gro: true, tso: false, gso: false }), [
      "ethtool -K p-n1 tso off gso off gro on",
    ]);
    assert.deepEqual(args({ op: "link.offload", name: "eth0", gro: true }), ["ethtool -K eth0 gro on"]);
    assert.deepEqual(args({ op: "link.offload", name: "eth0" }), []);
  });

  test("link add always names the link explicitly (iproute2 would read a bare 'a' as 'address')", () => {
    assert.deepEqual(args({ op: "link.add", spec: { kind: "bridge", name: "a" } }), [
      "ip link add name a type bridge",
    ]);
  });

  test("veth with its peer created directly in another namespace by path", () => {
    assert.deepEqual(
      args({
        op: "link.add",
        spec: {
          kind: "veth",
          name: "veth1",
          mtu: 1450,
          peer: { name: "eth0", mtu: 1450, netns: { kind: "path", path: "/proc/42/ns/net" } },
        },
      }),
      ["ip link add name veth1 mtu 1450 type veth peer name eth0 mtu 1450 netns /proc/42/ns/net"],
    );
  });

  test("vxlan without learning on a given port", () => {
    assert.deepEqual(
      args({
        op: "link.add",
        spec: {
          kind: "vxlan",
          name: "strata.1",
          vni: 1,
          port: 8472,
          local: "192.168.1.2",
          device: "eth0",
          learning: false,
        },
      }),
      ["ip link add name strata.1 type vxlan id 1 dstport 8472 local 192.168.1.2 dev eth0 nolearning"],
    );
  });

  test("routes: via/onlink/scope/table/metric/proto, and multipath next hops", () => {
    assert.deepEqual(
      args({
        op: "route.replace",
        route: {
          dst: "10.1.0.0/24",
          via: "10.2.0.0",
          dev: "strata.1",
          onlink: true,
          table: 100,
          proto: "147",
        },
      }),
      ["ip route replace 10.1.0.0/24 via 10.2.0.0 dev strata.1 onlink table 100 proto 147"],
    );
    assert.deepEqual(
      args({
        op: "route.add",
        route: {
          dst: "10.3.0.0/16",
          nexthops: [
            { via: "1.1.1.1", dev: "eth0", weight: 2 },
            { via: "1.1.1.2", dev: "eth1" },
          ],
        },
      }),
      ["ip route add 10.3.0.0/16 nexthop via 1.1.1.1 dev eth0 weight 2 nexthop via 1.1.1.2 dev eth1"],
    );
  });

  test("an IPv4 route via an IPv6 gateway (RFC 8950) names the gateway's family", () => {
    assert.deepEqual(
      args({ op: "route.replace", route: { dst: "10.9.0.0/24", via: "fe80::1", dev: "eth0", proto: "147" } }),
      ["ip route replace 10.9.0.0/24 via inet6 fe80::1 dev eth0 proto 147"],
    );
    assert.deepEqual(
      args({ op: "route.replace", route: { dst: "fd00:9::/64", via: "fe80::1", dev: "eth0" } }),
      ["ip route replace fd00:9::/64 via fe80::1 dev eth0"],
    );
  });

  test("link set renames first (down), then attributes, then up, then moves namespace", () => {
    assert.deepEqual(
      args({
        op: "link.set",
        name: "tmp0",
        rename: "eth1",
        mtu: 9000,
        master: null,
        up: true,
        netns: { kind: "named", name: "pod" },
      }),
      [
        "ip link set dev tmp0 down",
        "ip link set dev tmp0 name eth1",
        "ip link set dev eth1 mtu 9000 nomaster",
        "ip link set dev eth1 up",
        "ip link set dev eth1 netns pod",
      ],
    );
  });

  test("neighbours and VXLAN FDB entries are permanent", () => {
    assert.deepEqual(
      args({
        op: "neigh.replace",
        dev: "strata.1",
        ip: "10.2.0.0",
        mac: "02:00:00:00:00:02",
        permanent: true,
      }),
      ["ip neigh replace 10.2.0.0 lladdr 02:00:00:00:00:02 dev strata.1 nud permanent"],
    );
    assert.deepEqual(
      args({
        op: "fdb.append",
        entry: { dev: "strata.1", mac: "02:00:00:00:00:02", dst: "192.168.1.3", self: true },
      }),
      ["bridge fdb append 02:00:00:00:00:02 dev strata.1 dst 192.168.1.3 self permanent"],
    );
  });

  test("tun/tap go through ip tuntap", () => {
    assert.deepEqual(args({ op: "link.add", spec: { kind: "tap", name: "tap0", mtu: 1400 } }), [
      "ip tuntap add dev tap0 mode tap",
      "ip link set dev tap0 mtu 1400",
    ]);
  });

  test("sysctl keys: dotted and slashed forms; dots in interface names need the slashed form", () => {
    assert.equal(sysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
    assert.equal(
      sysctlPath("net/ipv4/conf/strata.1/forwarding"),
      "/proc/sys/net/ipv4/conf/strata.1/forwarding",
    );
    assert.throws(() => sysctlPath("net/../../etc/passwd"), RangeError);
  });

  test("batch lines quote only what needs quoting", () => {
    assert.equal(
      batchLine(["link", "set", "dev", "eth0", "alias", "my pod"]),
      'link set dev eth0 alias "my pod"',
    );
  });

  test("namespace paths reach iproute2's -n through its run dir", () => {
    assert.deepEqual(ipNetnsArgs({ kind: "path", path: "/proc/1/ns/net" }), [
      "-n",
      "../../../../../../proc/1/ns/net",
    ]);
    assert.deepEqual(ipNetnsArgs({ kind: "named", name: "x" }), ["-n", "x"]);
    assert.deepEqual(ipNetnsArgs({ kind: "current" }), []);
  });
});

describe("error classification", () => {
  const cases: [string, string][] = [
    ["RTNETLINK answers: File exists", "exists"],
    ["Error: ipv4: Address already assigned.", "exists"],
    ['Cannot find device "zz"', "not-found"],
    ["RTNETLINK answers: No such process", "not-found"],
    ["Error: Unknown device type.", "unsupported"],
    ["RTNETLINK answers: Operation not permitted", "permission"],
    ["Error: Nexthop has invalid gateway.", "invalid"],
  ];
  for (const [text, kind] of cases)
    test(`"${text}" → ${kind}`, () => assert.equal(classifyError(text), kind));
});
