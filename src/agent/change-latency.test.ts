import assert from "node:assert/strict";
import { test } from "node:test";
import { ChangeLatency } from "./change-latency.js";

test("the summary gives median, p90 and max of the samples", () => {
  const l = new ChangeLatency();
  for (let ms = 1; ms <= 100; ms++) l.record(ms);
  assert.deepEqual(l.summary(), { samples: 100, medianMs: 51, p90Ms: 91, maxMs: 100 });
});

test("only the last samples are kept for the median, the max is over all", () => {
  const l = new ChangeLatency(4);
  l.record(1000);
  for (let i = 0; i < 4; i++) l.record(10);
  assert.deepEqual(l.summary(), { samples: 5, medianMs: 10, p90Ms: 10, maxMs: 1000 });
});

test("no samples: zeros", () => {
  assert.deepEqual(new ChangeLatency().summary(), { samples: 0, medianMs: 0, p90Ms: 0, maxMs: 0 });
});
