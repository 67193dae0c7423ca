import assert from "node:assert/strict";
import { test } from "node:test";
import { pickSubnet } from "../../cluster/subnet-pick.js";
import { nodeRouterId, RouterIdError } from "./router-id.js";

const v6 = (subnet: string) => ({ subnet, publicIp: "fd00:192:168:10::11" });

test("IPv4 and dual-stack nodes keep their IPv4 address as BGP identifier", () => {
  assert.equal(nodeRouterId({ subnet: "10.244.1.0/24", publicIp: "192.168.10.11" }), "192.168.10.11");
});

test("an IPv6-only node's identifier is the last 32 bits of its pod subnet's prefix", () => {
  assert.equal(nodeRouterId(v6("fd00:10:244:1::/64")), "2.68.0.1");
  assert.equal(nodeRouterId(v6("fd00:10:244:ff::/64")), "2.68.0.255");
  assert.equal(nodeRouterId(v6("fd00:10:244:1:8000::/65")), "4.136.0.3");
  assert.equal(nodeRouterId(v6("2001:db8:ab:cd00::/56")), "184.0.171.205");
});

test("every subnet of a cluster CIDR up to 16 bits shorter gets its own identifier (no collisions)", () => {
  const cases: [string, number, (i: number) => string][] = [
    ["fd00:10:244::/56", 2 ** 8, (i) => `fd00:10:244:${i.toString(16)}::/64`],
    ["fd00:10::/48", 2 ** 16, (i) => `fd00:10:0:${i.toString(16)}::/64`],
    [
      "fd00:10:244:100::/56 at /72",
      2 ** 16,
      (i) => `fd00:10:244:1${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16)}00::/72`,
    ],
  ];
  for (const [name, count, subnet] of cases) {
    const ids = new Set<string>();
    // From 1: the first subnet is never picked (pickSubnet skips it, as Flannel does).
    for (let i = 1; i < count; i++) ids.add(nodeRouterId(v6(subnet(i))));
    assert.equal(ids.size, count - 1, name);
    assert.ok(!ids.has("0.0.0.0"), name);
  }
  assert.equal(pickSubnet("fd00:10:244::/56", 64, new Set()), "fd00:10:244:1::/64");
});

test("a subnet whose last 32 prefix bits are zero gives no identifier: a typed error says why", () => {
  assert.throws(
    () => nodeRouterId(v6("fd00:10::/64")),
    (e: unknown) => e instanceof RouterIdError && /0\.0\.0\.0/.test(e.message),
  );
});
