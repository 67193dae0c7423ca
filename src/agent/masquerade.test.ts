import assert from "node:assert/strict";
import { test } from "node:test";
import { clusterMasquerade, masqueradeRuleset } from "./masquerade.js";

test("the masquerade ruleset rewrites only traffic leaving the cluster CIDR, in one replaceable table", () => {
  const r = masqueradeRuleset("10.244.0.0/16");
  assert.match(r, /^add table ip strata-nat\ndelete table ip strata-nat\n/);
  assert.match(r, /ip saddr 10\.244\.0\.0\/16 ip daddr != 10\.244\.0\.0\/16 masquerade/);
  assert.match(r, /hook postrouting/);
});

test("IPv6 cluster CIDRs are masqueraded in an ip6 table of their own, beside the IPv4 one on dual stack", () => {
  const only6 = clusterMasquerade(["fd00:10:244::/56"]);
  assert.match(only6, /^add table ip6 strata-nat\n/);
  assert.match(only6, /ip6 saddr fd00:10:244::\/56 ip6 daddr != fd00:10:244::\/56 masquerade/);
  assert.doesNotMatch(only6, /table ip strata-nat/);
  const dual = clusterMasquerade(["10.244.0.0/16", "fd00:10:244::/56"]);
  assert.match(dual, /table ip strata-nat \{[\s\S]*table ip6 strata-nat \{/);
});
