import assert from "node:assert/strict";
import { test } from "node:test";
import { pickSubnet } from "./subnet-pick.js";

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
