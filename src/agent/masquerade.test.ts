import assert from "node:assert/strict";
import { test } from "node:test";
import { masqueradeRuleset } from "./masquerade.js";

test("the masquerade ruleset rewrites only traffic leaving the cluster CIDR, in one replaceable table", () => {
  const r = masqueradeRuleset("10.244.0.0/16");
  assert.match(r, /^add table ip strata-nat\ndelete table ip strata-nat\n/);
  assert.match(r, /ip saddr 10\.244\.0\.0\/16 ip daddr != 10\.244\.0\.0\/16 masquerade/);
  assert.match(r, /hook postrouting/);
});
