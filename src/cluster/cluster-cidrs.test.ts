import assert from "node:assert/strict";
import { test } from "node:test";
import { ClusterCidrError, checkSubnetLen6, parseClusterCidrs, primaryClusterCidr } from "./cluster-cidrs.js";

test("one IPv4 CIDR is an IPv4-only cluster, kept as written", () => {
  assert.deepEqual(parseClusterCidrs("10.244.0.0/16"), { ipv4: "10.244.0.0/16" });
});

test("a comma list with one CIDR per family is dual stack, in either order; IPv6 written canonically", () => {
  const dual = { ipv4: "10.244.0.0/16", ipv6: "fd00:10:244::/56" };
  assert.deepEqual(parseClusterCidrs("10.244.0.0/16,fd00:10:244::/56"), dual);
  assert.deepEqual(parseClusterCidrs("FD00:10:244:0::/56, 10.244.0.0/16"), dual);
});

test("one IPv6 CIDR alone is an IPv6-only cluster, written canonically; it is the primary family", () => {
  assert.deepEqual(parseClusterCidrs("FD00:10:244:0::/56"), { ipv6: "fd00:10:244::/56" });
  assert.equal(primaryClusterCidr(parseClusterCidrs("fd00:10:244::/56")), "fd00:10:244::/56");
  assert.equal(primaryClusterCidr(parseClusterCidrs("fd00:10:244::/56,10.244.0.0/16")), "10.244.0.0/16");
  assert.throws(() => parseClusterCidrs("fd00:10:244::1/56"), /host bits set/);
});

test("two of one family, three CIDRs, garbage and host bits are refused with what to write", () => {
  const cases: [string, RegExp][] = [
    ["10.244.0.0/16,10.245.0.0/16", /two IPv4 CIDRs/],
    ["fd00::/56,fd01::/56", /two IPv6 CIDRs/],
    ["10.244.0.0/16,fd00::/56,10.1.0.0/16", /lists 3 CIDRs/],
    ["10.244.0.0/16,", /"" is not a prefix/],
    ["10.244.0.0/16,fd00::zz/56", /not a prefix ADDRESS\/LEN/],
    ["10.244.0.0/16,fd00:10:244::1/56", /host bits set \(fd00:10:244::\/56\?\)/],
  ];
  for (const [text, message] of cases)
    assert.throws(
      () => parseClusterCidrs(text),
      (e: unknown) =>
        e instanceof ClusterCidrError && message.test(e.message) && e.message.startsWith("--cluster-cidr: "),
      text,
    );
});

test("the per-node IPv6 length lies inside the cluster's, at most 16 bits longer, at most /126", () => {
  assert.equal(checkSubnetLen6("fd00:10:244::/56", 64), 64);
  assert.throws(() => checkSubnetLen6("fd00:10:244::/56", 48), /from 56/);
  assert.throws(() => checkSubnetLen6("fd00:10:244::/48", 80), /more than 16 bits longer/);
  assert.throws(() => checkSubnetLen6("fd00:10:244::/120", 127), /to 126/);
});
