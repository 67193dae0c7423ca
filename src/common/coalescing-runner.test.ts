import assert from "node:assert/strict";
import { test } from "node:test";
import { CoalescingRunner } from "./coalescing-runner.js";

/** A pass that waits until released, recording the input it read at its start. */
function gatedPass(input: () => number) {
  const seen: number[] = [];
  let release: () => void = () => {};
  let started: () => void = () => {};
  let startedP = new Promise<void>((r) => {
    started = r;
  });
  const pass = async () => {
    seen.push(input());
    const gate = new Promise<void>((r) => {
      release = r;
    });
    started();
    await gate;
  };
  return {
    seen,
    pass,
    release: () => release(),
    nextStart: async () => {
      await startedP;
      startedP = new Promise<void>((r) => {
        started = r;
      });
    },
  };
}

test("triggers that arrive during a pass merge into one next pass, which reads the newest input", async () => {
  let input = 0;
  const g = gatedPass(() => input);
  const runner = new CoalescingRunner(g.pass, (err) => assert.fail(String(err)));
  const first = runner.trigger();
  await g.nextStart();
  const during: Promise<void>[] = [];
  for (let i = 1; i <= 1000; i++) {
    input = i;
    during.push(runner.trigger());
  }
  g.release();
  await first;
  await g.nextStart();
  g.release();
  await Promise.all(during);
  assert.equal(runner.triggers, 1001);
  assert.equal(runner.passes, 2);
  assert.deepEqual(g.seen, [0, 1000]);
});

test("a trigger after the queued pass started queues another one (its change is never lost)", async () => {
  let input = 0;
  const g = gatedPass(() => input);
  const runner = new CoalescingRunner(g.pass, (err) => assert.fail(String(err)));
  const a = runner.trigger();
  await g.nextStart();
  input = 1;
  const b = runner.trigger(); // queued behind a
  g.release();
  await a;
  await g.nextStart(); // b has read input 1
  input = 2;
  const c = runner.trigger(); // must not join b, which already read its input
  g.release();
  await b;
  await g.nextStart();
  g.release();
  await c;
  assert.deepEqual(g.seen, [0, 1, 2]);
});

test("without coalescing every trigger is a pass (the bench's reference)", async () => {
  let passes = 0;
  const runner = new CoalescingRunner(
    async () => {
      passes++;
      await new Promise((r) => setTimeout(r, 1));
    },
    () => {},
    false,
  );
  await Promise.all(Array.from({ length: 20 }, () => runner.trigger()));
  assert.equal(passes, 20);
});

test("a failing pass is reported and the next pass still runs", async () => {
  const errors: string[] = [];
  let fail = true;
  const runner = new CoalescingRunner(
    async () => {
      if (fail) throw new Error("kernel said no");
    },
    (err) => errors.push(String(err)),
  );
  await runner.trigger();
  fail = false;
  await runner.trigger();
  assert.deepEqual(errors, ["Error: kernel said no"]);
  assert.equal(runner.passes, 2);
});
