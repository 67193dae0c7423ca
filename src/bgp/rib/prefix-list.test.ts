import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPrefixRange, PrefixListError, parsePrefixRange, rangeMatches } from "./prefix-list.js";

test("prefix ranges parse with Cisco-style ge/le defaults, and print back the same", () => {
  assert.deepEqual(parsePrefixRange("10.244.0.0/16"), { prefix: "10.244.0.0/16", ge: 16, le: 16 });
  assert.deepEqual(parsePrefixRange("10.244.0.0/16le24"), { prefix: "10.244.0.0/16", ge: 16, le: 24 });
  assert.deepEqual(parsePrefixRange("10.244.0.0/16ge24"), { prefix: "10.244.0.0/16", ge: 24, le: 32 });
  assert.deepEqual(parsePrefixRange("10.244.0.0/16ge24le24"), { prefix: "10.244.0.0/16", ge: 24, le: 24 });
  assert.deepEqual(parsePrefixRange("fd00::/48le64"), { prefix: "fd00::/48", ge: 48, le: 64 });
  for (const t of ["10.244.0.0/16", "10.244.0.0/16le24", "10.244.0.0/16ge24", "10.244.0.0/16ge20le24"])
    assert.equal(formatPrefixRange(parsePrefixRange(t)), t);
});

test("bad prefix ranges are refused with what to write", () => {
  for (const [bad, why] of [
    ["10.244.0.0", /not a prefix/],
    ["10.244.0.0/33", /longer than 32/],
    ["10.244.1.0/16", /host bits set: the network is 10\.244\.0\.0\/16/],
    ["10.244.0.0/16le8", /le must be 16\.\.32/],
    ["10.244.0.0/16ge8", /ge must be 16\.\.32/],
    ["10.244.0.0/16ge24le20", /le must be 24\.\.32/],
    ["10.244.0.0/16le40", /le must be/],
    ["300.1.1.1/8", /not an IP address/],
    ["10.0.0.0/8 le 24", /not a prefix/],
  ] as const) {
    assert.throws(() => parsePrefixRange(bad), PrefixListError, bad);
    assert.throws(() => parsePrefixRange(bad), why, bad);
    assert.throws(() => parsePrefixRange(bad), /write PREFIX\/LEN\[geN\]\[leN\]/);
  }
});

test("a range matches prefixes inside it whose length is within ge..le", () => {
  const r = parsePrefixRange("10.244.0.0/16le24");
  assert.ok(rangeMatches(r, "10.244.0.0/16"));
  assert.ok(rangeMatches(r, "10.244.7.0/24"));
  assert.ok(!rangeMatches(r, "10.244.7.0/25"), "longer than le");
  assert.ok(!rangeMatches(r, "10.0.0.0/8"), "covering, not inside");
  assert.ok(!rangeMatches(r, "10.245.0.0/24"), "outside");
  assert.ok(!rangeMatches(r, "fd00::/64"), "other family");
  const exact = parsePrefixRange("192.0.2.0/24");
  assert.ok(rangeMatches(exact, "192.0.2.0/24"));
  assert.ok(!rangeMatches(exact, "192.0.2.0/25"));
});
