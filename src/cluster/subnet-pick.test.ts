import assert from "node:assert/strict";
import { test } from "node:test";
import { pickSubnet, pickSubnetSpread } from "./subnet-pick.js";

test("picks the lowest free /24 after the first, keeps a preferred free one, reports a full CIDR", () => {
  assert.equal(pickSubnet("10.244.0.0/16", 24, new Set()), "10.244.1.0/24");
  assert.equal(pickSubnet("10.244.0.0/16", 24, new Set(["10.244.1.0/24"])), "10.244.2.0/24");
  assert.equal(pickSubnet("10.244.0.0/16", 24, new Set(["10.244.1.0/24"]), "10.244.9.0/24"), "10.244.9.0/24");
  assert.equal(pickSubnet("10.244.0.0/16", 24, new Set(["10.244.9.0/24"]), "10.244.9.0/24"), "10.244.1.0/24");
  assert.equal(pickSubnet("10.0.0.0/30", 31, new Set(["10.0.0.2/31"])), undefined);
});

test("IPv6: picks the lowest free /64 after the first from a /56, and keeps a preferred free one", () => {
  assert.equal(pickSubnet("fd00:10:244::/56", 64, new Set()), "fd00:10:244:1::/64");
  assert.equal(pickSubnet("fd00:10:244::/56", 64, new Set(["fd00:10:244:1::/64"])), "fd00:10:244:2::/64");
  assert.equal(pickSubnet("fd00:10:244::/56", 64, new Set(), "fd00:10:244:9::/64"), "fd00:10:244:9::/64");
  const all = new Set(Array.from({ length: 255 }, (_, i) => `fd00:10:244:${(i + 1).toString(16)}::/64`));
  assert.equal(pickSubnet("fd00:10:244::/56", 64, all), undefined);
});

test("pickSubnetSpread: one of the lowest free subnets, as random says; undefined when full", () => {
  const taken = new Set(["10.244.1.0/24", "10.244.3.0/24"]);
  const pick = (r: number) => pickSubnetSpread("10.244.0.0/16", 24, taken, 4, () => r);
  assert.equal(pick(0), "10.244.2.0/24");
  assert.equal(pick(0.3), "10.244.4.0/24");
  assert.equal(pick(0.99), "10.244.6.0/24", "never past the 4 lowest free ones");
  assert.equal(
    pickSubnetSpread("10.244.0.0/23", 24, new Set(["10.244.1.0/24"]), 4, () => 0.5),
    undefined,
  );
  assert.equal(
    pickSubnetSpread("fd00:10:244::/56", 64, new Set(), 64, () => 0.999),
    "fd00:10:244:40::/64",
    "IPv6 too",
  );
});
