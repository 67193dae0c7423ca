import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultLeaseBurst, leasePassDelay, stormIntervalMs } from "./lease-burst.js";

const b = defaultLeaseBurst;

test("a view waits the quiet time, and no longer than the burst's cap from its first view", () => {
  assert.equal(leasePassDelay(b, 1000, 1000, undefined), 100);
  assert.equal(leasePassDelay(b, 1950, 1000, undefined), 50, "the cap, 1 s after the first view");
  assert.equal(leasePassDelay(b, 2500, 1000, undefined), 0, "past the cap: at once");
});

test("a change long after the last pass waits only the quiet time", () => {
  assert.equal(leasePassDelay(b, 5000, 5000, { endedAt: 3000, ms: 5 }), 100);
  assert.equal(leasePassDelay(b, 5000, 5000, { endedAt: 0, ms: 200 }), 100, "a long pass long ago");
});

test("views that keep coming after a pass get one pass a second, whatever their rate", () => {
  // A pass ended at 1000; views at 1200, 1400, ...: the next pass at 2000, not at 1300.
  assert.equal(leasePassDelay(b, 1200, 1200, { endedAt: 1000, ms: 5 }), 800);
  assert.equal(leasePassDelay(b, 1900, 1200, { endedAt: 1000, ms: 5 }), 100, "the quiet time still applies");
});

test("after a long pass the next waits three times its length from its end, past the burst's cap", () => {
  // A 400 ms pass ended at 1000: the next not before 2200.
  assert.equal(leasePassDelay(b, 1100, 1100, { endedAt: 1000, ms: 400 }), 1100);
  assert.equal(leasePassDelay(b, 2100, 1100, { endedAt: 1000, ms: 400 }), 100);
  assert.equal(
    leasePassDelay({ ...b, spacing: 0 }, 1100, 1100, { endedAt: 1000, ms: 400 }),
    900,
    "spacing off: the one-a-second rule alone",
  );
});

test("while views keep coming, the interval between passes grows with the peers, within bounds", () => {
  assert.equal(stormIntervalMs(b, 0), 1000, "never under the burst's cap");
  assert.equal(stormIntervalMs(b, 100), 1000);
  assert.equal(stormIntervalMs(b, 200), 2000);
  assert.equal(stormIntervalMs(b, 5000), 5000, "never over maxStormMs");
  // A pass over 200 peers ended at 1000; a view at 1200 waits for 3000, not 2000.
  assert.equal(leasePassDelay(b, 1200, 1200, { endedAt: 1000, ms: 5 }, 200), 1800);
  assert.equal(leasePassDelay(b, 1200, 1200, { endedAt: 1000, ms: 5 }, 50), 800, "few peers: a second");
  // After a quiet spell longer than the interval: the quiet time alone.
  assert.equal(leasePassDelay(b, 4000, 4000, { endedAt: 1000, ms: 5 }, 200), 100);
});
