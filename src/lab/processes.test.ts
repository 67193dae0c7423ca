import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { withNamespaces } from "../../test/support/netns.js";
import { eventually } from "../common/eventually.js";
import { isAlive, observeProcess } from "../process/process-identity.js";
import { lastLogWords, spawnLabProcess, stopLabProcess, waitWhileRunning } from "./processes.js";

test("a lab process started through `ip netns exec` is recorded at spawn, recognised after the exec, and stopped with SIGTERM", async () => {
  await withNamespaces("procid", async (ns) => {
    const name = ns.create("node");
    const dir = mkdtempSync(join(tmpdir(), "strata-procid-"));
    try {
      const proc = spawnLabProcess(
        "agent",
        ["ip", "netns", "exec", name, "sleep", "300"],
        join(dir, "log"),
        "n1",
      );
      assert.ok(proc.running, "identity read at spawn");
      const rec = { ...proc.running, argv: proc.argv };
      // Once `ip` has exec'd, /proc shows "sleep 300" under the same PID and start time.
      await eventually(() => observeProcess(rec.pid)?.argv[0] === "sleep", "ip to exec sleep");
      assert.equal(isAlive(rec), true);
      assert.equal(await stopLabProcess(proc), "stopped");
      assert.equal(isAlive(rec), false);
      assert.equal(await stopLabProcess(proc), "not running");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("waitWhileRunning: a process that exits ends the wait at once, in one line naming it and the end of its log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-procwait-"));
  try {
    const proc = spawnLabProcess(
      "agent",
      ["sh", "-c", "echo lease failed: no datastore; exit 1"],
      join(dir, "log"),
      "n1",
    );
    const t0 = Date.now();
    await assert.rejects(
      waitWhileRunning(proc, async () => false, "n1's subnet lease", { timeoutMs: 30_000 }),
      (err: Error) =>
        err.message ===
        'the agent of n1 exited before n1\'s subnet lease; its log ends "lease failed: no datastore"',
    );
    assert.ok(Date.now() - t0 < 5_000, "not after the timeout");
    const sleeping = spawnLabProcess(
      "agent",
      [
        "sh",
        "-c",
        `echo '{"level":40,"msg":"datastore unavailable; no subnet yet","err":"ECONNREFUSED"}'; exec sleep 30`,
      ],
      join(dir, "log2"),
      "n2",
    );
    await assert.rejects(
      waitWhileRunning(sleeping, async () => false, "n2's subnet lease", { timeoutMs: 1500 }),
      (err: Error) =>
        err.message ===
        'timed out after 1.5 s waiting for n2\'s subnet lease: the agent of n2 runs and its log ends "datastore unavailable; no subnet yet: ECONNREFUSED"',
    );
    await stopLabProcess(sleeping, { kill: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lastLogWords: a pino line gives its message and error, another line itself, long lines cut", () => {
  assert.equal(lastLogWords(""), "its log is empty");
  assert.equal(
    lastLogWords("a\nstrata: no free /24 left in 10.244.0.0/23\n"),
    'its log ends "strata: no free /24 left in 10.244.0.0/23"',
  );
  assert.equal(lastLogWords('{"level":30,"msg":"subnet leased"}'), 'its log ends "subnet leased"');
  assert.equal(lastLogWords("x".repeat(300)).length, 'its log ends ""'.length + 200);
});
