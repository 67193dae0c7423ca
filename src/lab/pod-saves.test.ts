import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { podSaveEvery, podStateWriteDue } from "./pod-saves.js";

describe("state file writes while the lab attaches pods", () => {
  test("400 pods: 8 writes (every 50th pod, the last among them), not one per pod", () => {
    const due = Array.from({ length: 400 }, (_, i) => i + 1).filter((n) => podStateWriteDue(n, 400));
    assert.equal(podSaveEvery, 50);
    assert.deepEqual(due, [50, 100, 150, 200, 250, 300, 350, 400]);
  });

  test("the last pod always writes; fewer pods than a batch write once", () => {
    const due = (total: number, every?: number) =>
      Array.from({ length: total }, (_, i) => i + 1).filter((n) => podStateWriteDue(n, total, every));
    assert.deepEqual(due(3), [3]);
    assert.deepEqual(due(7, 3), [3, 6, 7]);
    assert.deepEqual(due(2, 0), [1, 2]);
    assert.equal(podStateWriteDue(0, 0), false);
  });
});
