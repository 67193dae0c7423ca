import assert from "node:assert/strict";
import { test } from "node:test";
import { nextRepairDelay, repairKind } from "./repair-schedule.js";

const s = { routesMs: 10_000, fullMs: 60_000, jitter: 0.2 };

test("repair ticks are spread ± jitter around --resync-interval, never 0", () => {
  assert.equal(nextRepairDelay(s, 0), 8_000);
  assert.equal(nextRepairDelay(s, 0.5), 10_000);
  assert.equal(nextRepairDelay(s, 0.999_999), 12_000);
  assert.equal(nextRepairDelay({ ...s, routesMs: 1, jitter: 1 }, 0), 1);
});

test("a tick reads routes alone until --full-resync-interval has passed since the last full pass", () => {
  assert.equal(repairKind(s, 0), "routes");
  assert.equal(repairKind(s, 59_999), "routes");
  assert.equal(repairKind(s, 60_000), "full");
  // A full interval no longer than the route interval: every tick is a full pass (the old behaviour).
  assert.equal(repairKind({ ...s, fullMs: 10_000 }, 10_000), "full");
});
