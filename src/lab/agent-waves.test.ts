import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inWindow } from "../common/in-window.js";
import { agentStartWindow } from "./agent-waves.js";

describe("starting agents in a window sized to the CPU", () => {
  test("eight per core, at least 4 and at most 32", () => {
    assert.deepEqual([0, 1, 2, 4, 64].map(agentStartWindow), [4, 8, 16, 32, 32]);
  });

  test("never more than the window at once, every item once, in order", async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await inWindow([1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 3));
      running--;
    });
    assert.equal(peak, 3);
    assert.deepEqual(started, [1, 2, 3, 4, 5, 6, 7]);
  });

  test("a failure stops new starts and is thrown after the running ones settle", async () => {
    const started: number[] = [];
    let settled = 0;
    await assert.rejects(
      inWindow([1, 2, 3, 4, 5, 6], 2, async (i) => {
        started.push(i);
        await new Promise((r) => setTimeout(r, i === 1 ? 1 : 20));
        settled++;
        if (i === 1) throw new Error("n1 never leased");
      }),
      /n1 never leased/,
    );
    // 1 fails at once; 2 was already running and settles; nothing starts after the failure.
    assert.deepEqual(started, [1, 2]);
    assert.equal(settled, 2);
  });

  test("a window below 1 is refused", async () => {
    await assert.rejects(
      inWindow([1], 0, async () => {}),
      RangeError,
    );
  });
});
