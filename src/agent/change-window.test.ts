import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChangeWindow, changeArrived, quietWindow, windowEnded } from "./change-window.js";

/** Feed changes at the given times (ms) and run the timers; the times passes ran at. */
function passTimes(changes: readonly number[], windowMs: number): number[] {
  let w: ChangeWindow = quietWindow;
  let timer: number | undefined;
  const passes: number[] = [];
  const events = [...changes];
  for (;;) {
    const nextChange = events[0];
    if (nextChange === undefined && timer === undefined) return passes;
    if (nextChange !== undefined && (timer === undefined || nextChange < timer)) {
      events.shift();
      const s = changeArrived(w, nextChange, windowMs);
      w = s.window;
      if (s.pass) passes.push(nextChange);
      if (s.timerAt !== undefined) timer = s.timerAt;
    } else {
      const now = timer as number;
      timer = undefined;
      const s = windowEnded(w, now, windowMs);
      w = s.window;
      if (s.pass) passes.push(now);
      if (s.timerAt !== undefined) timer = s.timerAt;
    }
  }
}

test("a lone change passes at once and the window then closes with no second pass", () => {
  assert.deepEqual(passTimes([1000], 200), [1000]);
});

test("changes inside the window wait for its end and go in one pass", () => {
  assert.deepEqual(passTimes([1000, 1010, 1050, 1199], 200), [1000, 1200]);
});

test("a long burst costs one pass per window, not one per change", () => {
  const changes = Array.from({ length: 1000 }, (_, i) => i * 5); // 1000 changes over 5 s
  const passes = passTimes(changes, 200);
  assert.equal(passes[0], 0);
  assert.ok(passes.length <= 1 + 5000 / 200 + 1, `${passes.length} passes`);
  // Every change went in a pass at or after it, within one window.
  for (const c of changes)
    assert.ok(
      passes.some((p) => p >= c && p <= c + 200),
      `change at ${c}`,
    );
});

test("a change after a quiet spell passes at once again", () => {
  assert.deepEqual(passTimes([0, 50, 1000], 200), [0, 200, 1000]);
});

test("window 0 passes on every change (no merging)", () => {
  assert.deepEqual(passTimes([0, 1, 2], 0), [0, 1, 2]);
});
