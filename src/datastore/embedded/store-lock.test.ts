import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { packageRoot } from "../../cli/paths.js";
import { identify } from "../../process/process-identity.js";
import { EmbeddedStore } from "./embedded-store.js";
import { lockFile, parseLockHolder } from "./store-lock.js";

const run = promisify(execFile);
const cli = join(packageRoot, "bin/strata.js");
const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), "strata-lock-"));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file of a directory with its bytes: what "nothing changed" compares. */
const contents = (dir: string) =>
  Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString("base64")]));

test("a lock file names its holder by PID and start time; anything else names no one", () => {
  assert.deepEqual(parseLockHolder('{"pid":42,"startTime":"977"}\n'), { pid: 42, startTime: "977" });
  for (const bad of ["", "{", '{"pid":"42","startTime":"1"}', '{"pid":4.2,"startTime":"1"}', "[]", "null"])
    assert.equal(parseLockHolder(bad), undefined, bad);
});

test("a second process cannot open a store directory in use: one line naming the holder's PID, exit 1, no file changed", async () => {
  const dir = scratch();
  const store = new EmbeddedStore({ dir, sweepMs: 3_600_000 });
  try {
    await store.put("/k", "v");
    await store.flush();
    assert.deepEqual(parseLockHolder(readFileSync(lockFile(dir), "utf8")), identify(process.pid));
    const before = contents(dir);
    const r = await run(process.execPath, [
      cli,
      "datastore",
      "--socket",
      join(dir, "s.sock"),
      "--dir",
      dir,
    ]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^strata datastore: datastore directory ${dir} is in use by process ${process.pid}`),
    );
    assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
    assert.deepEqual(contents(dir), before, "the store's files are untouched");
    const repair = await run(process.execPath, [cli, "datastore", "repair", "--dir", dir]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.notEqual(repair.code, 0, "repair is refused while the store runs");
    assert.match(repair.stderr, /is in use by process/);
    assert.deepEqual(contents(dir), before, "repair changed nothing");
    assert.equal((await store.get("/k"))?.value, "v");
  } finally {
    await store.close();
  }
  assert.throws(() => readFileSync(lockFile(dir)), /ENOENT/, "close releases the lock");
});

test("a lock left by a process that has ended is taken over and said so; the data is all there", async () => {
  const dir = scratch();
  const first = new EmbeddedStore({ dir, sweepMs: 3_600_000 });
  await first.put("/a", "1");
  await first.close();
  // A holder that has ended: a real process, started and reaped, its identity written as a crash would leave it.
  const child = spawn("true");
  const pid = child.pid as number;
  const id = identify(pid) ?? { pid, startTime: "1" };
  await new Promise((r) => child.once("exit", r));
  writeFileSync(lockFile(dir), `${JSON.stringify(id)}\n`);
  const lines: string[] = [];
  const second = new EmbeddedStore({ dir, sweepMs: 3_600_000, log: (l) => lines.push(l) });
  try {
    assert.equal((await second.get("/a"))?.value, "1");
    assert.match(lines.join("\n"), new RegExp(`named process ${pid}, which has ended; taking it over`));
    assert.deepEqual(parseLockHolder(readFileSync(lockFile(dir), "utf8")), identify(process.pid));
  } finally {
    await second.close();
  }
});

test("a torn lock file (a crash while it was written) is taken over", async () => {
  const dir = scratch();
  writeFileSync(lockFile(dir), '{"pid":');
  const lines: string[] = [];
  const store = new EmbeddedStore({ dir, sweepMs: 3_600_000, log: (l) => lines.push(l) });
  await store.close();
  assert.match(lines.join("\n"), /named no process; taking it over/);
});
