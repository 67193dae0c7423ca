import assert from "node:assert/strict";
import { test } from "node:test";
import { PhaseClock } from "./phase-clock.js";

test("each mark is the time since the one before it, in whole milliseconds", () => {
  const times = [1000, 1012.4, 1012.6, 1250];
  const clock = new PhaseClock(() => times.shift() ?? 0);
  clock.mark("underlay");
  clock.mark("lease");
  clock.mark("backend");
  assert.deepEqual(clock.phases, { underlay: 12, lease: 0, backend: 237 });
});
