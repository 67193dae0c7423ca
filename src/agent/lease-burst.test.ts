import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultLeaseBurst, leasePassDelay } from "./lease-burst.js";

const b = defaultLeaseBurst;

test("a view waits the quiet time, and no longer than the burst's cap from its first view", () => {
  assert.equal(leasePassDelay(b, 1000, 1000, undefined), 100);
  assert.equal(leasePassDelay(b, 1950, 1000, undefined), 50, "the cap, 1 s after the first view");
  assert.equal(leasePassDelay(b, 2500, 1000, undefined), 0, "past the cap: at once");
});

test("cheap passes on an idle node change nothing", () => {
  assert.equal(leasePassDelay(b, 1000, 1000, { endedAt: 990, ms: 5 }), 100);
  assert.equal(leasePassDelay(b, 1000, 1000, { endedAt: 0, ms: 200 }), 100, "a long pass long ago");
});

test("after a long pass the next waits three times its length from its end, past the burst's cap", () => {
  // A 400 ms pass ended at 1000: the next not before 2200.
  assert.equal(leasePassDelay(b, 1100, 1100, { endedAt: 1000, ms: 400 }), 1100);
  assert.equal(leasePassDelay(b, 2100, 1100, { endedAt: 1000, ms: 400 }), 100);
  assert.equal(
    leasePassDelay({ ...b, spacing: 0 }, 1100, 1100, { endedAt: 1000, ms: 400 }),
    100,
    "spacing off",
  );
});
