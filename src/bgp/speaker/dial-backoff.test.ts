import assert from "node:assert/strict";
import { test } from "node:test";
import { redialSeconds } from "./dial-backoff.js";

const noJitter = () => 1;

test("the first retry waits the connect-retry time, then each failure doubles it up to the cap", () => {
  const waits = [1, 2, 3, 4, 5, 6, 7, 40].map((f) => redialSeconds(1, f, 30, noJitter));
  assert.deepEqual(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
});

test("no failure yet waits the connect-retry time; a cap below it never shortens it", () => {
  assert.equal(redialSeconds(5, 0, 30, noJitter), 5);
  assert.equal(redialSeconds(5, 6, 2, noJitter), 5);
});

test("jitter takes a quarter off at most (RFC 4271 §10)", () => {
  assert.equal(
    redialSeconds(4, 1, 30, () => 0),
    3,
  );
  for (let i = 0; i < 100; i++) {
    const s = redialSeconds(4, 3, 30);
    assert.ok(s >= 12 && s <= 16, String(s));
  }
});
