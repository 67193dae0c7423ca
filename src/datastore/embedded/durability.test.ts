import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { packageRoot } from "../../cli/paths.js";
import { DatastoreError, type KeyValue, type WatchEvent } from "../api.js";
import { EmbeddedStore, type EmbeddedStoreOptions } from "./embedded-store.js";
import { encodeLogRecord } from "./log-records.js";
import { MAX_PAYLOAD_BYTES, scanRecords } from "./record-codec.js";
import { repairStore } from "./repair.js";
import { StoreCorruptError } from "./store-errors.js";
import { legacyLogFile, snapshotFile, walFile } from "./store-files.js";

const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), "strata-kvdur-"));
after(() => rmSync(base, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(base, `d${dirs++}`);

/** A store on `dir` whose recovery notes are collected. */
function open(dir: string, opts: EmbeddedStoreOptions = {}) {
  const notes: string[] = [];
  const store = new EmbeddedStore({ dir, sweepMs: 3_600_000, log: (l) => notes.push(l), ...opts });
  return { store, notes };
}

/** A store with a lease, a key on it, and a few plain keys; returns what it holds. */
async function populate(dir: string, keys = 5) {
  const { store } = open(dir);
  const lease = await store.grantLease(600);
  await store.put("/leased/n1", "subnet-a", { lease });
  for (let i = 0; i < keys; i++) await store.put(`/k/${i}`, `v${i}`);
  const items = (await store.list("/")).items;
  const revision = store.state.revision;
  await store.close();
  return { lease, items, revision };
}

const byKey = (items: readonly KeyValue[]) => new Map(items.map((kv) => [kv.key, kv]));

describe("torn tail: a crash in the middle of an append", () => {
  test("cut at every byte offset of the last record: start succeeds, logs file and offset, every earlier record, revision and lease is there", async () => {
    const ref = freshDir();
    const before = await populate(ref, 3);
    const { store: s0 } = open(ref);
    const lastRev = await s0.put("/last", "x".repeat(40));
    await s0.close();
    const wal = readFileSync(walFile(ref, 1));
    const last = scanRecords(wal).records.at(-1)?.offset as number;
    assert.ok(last > 0);
    for (let cut = last + 1; cut < wal.length; cut++) {
      const dir = freshDir();
      const { store: w } = open(dir);
      await w.close();
      writeFileSync(walFile(dir, 1), wal.subarray(0, cut));
      const { store, notes } = open(dir);
      assert.equal(notes.length, 1, `cut at ${cut}: one log line`);
      assert.match(
        notes[0] as string,
        new RegExp(`torn record off the end of ${walFile(dir, 1)} at byte ${last} `),
      );
      assert.equal(statSync(walFile(dir, 1)).size, last, "the torn bytes are gone from the file");
      assert.equal(await store.get("/last"), undefined);
      assert.deepEqual(byKey((await store.list("/")).items), byKey(before.items), `cut at ${cut}`);
      assert.equal(store.state.revision, before.revision);
      assert.equal(await store.keepAlive(before.lease), true, "the lease survived");
      assert.equal(await store.put("/after", "y"), lastRev, "revisions go on from the last durable one");
      await store.close();
      const again = open(dir);
      assert.deepEqual(again.notes, [], "the next start finds a clean log");
      assert.equal((await again.store.get("/after"))?.modRevision, lastRev);
      await again.store.close();
      rmSync(dir, { recursive: true });
    }
  });
});

describe("damage in the middle of the log", () => {
  const damage = (dir: string, recordIndex: number) => {
    const file = walFile(dir, 1);
    const bytes = readFileSync(file);
    const rec = scanRecords(bytes).records[recordIndex];
    assert.ok(rec);
    bytes[rec.offset + 14] = (bytes[rec.offset + 14] as number) ^ 0x01;
    writeFileSync(file, bytes);
    return { file, offset: rec.offset };
  };

  test("the store refuses to start, at every start, naming the file, the byte offset and the repair command", async () => {
    const dir = freshDir();
    await populate(dir);
    const { file, offset } = damage(dir, 4);
    for (let attempt = 0; attempt < 2; attempt++)
      assert.throws(
        () => open(dir),
        (err: unknown) => {
          assert.ok(err instanceof StoreCorruptError);
          assert.equal(err.code, "datastore.corrupt");
          assert.equal(err.file, file);
          assert.equal(err.offset, offset);
          assert.match(err.message, new RegExp(`${file} is damaged at byte ${offset} `));
          assert.ok(err.message.includes(`strata datastore repair --dir ${dir}`));
          return true;
        },
      );
    assert.ok(statSync(file).size > offset, "nothing was cut off");
  });

  test("repair keeps every intact record; revisions never go backwards; the lease is intact", async () => {
    const dir = freshDir();
    const before = await populate(dir, 8);
    const { offset } = damage(dir, 4); // the put of /k/2
    const report = repairStore(dir);
    assert.deepEqual(
      report.dropped.map((d) => [d.file, d.offset]),
      [[walFile(dir, 1), offset]],
    );
    assert.equal(report.kept, 1 + 1 + 8 - 1);
    assert.equal(report.revision, before.revision);
    const { store, notes } = open(dir);
    assert.deepEqual(notes, []);
    const want = byKey(before.items);
    want.delete("/k/2");
    assert.deepEqual(byKey((await store.list("/")).items), want, "every other key with its revisions");
    assert.equal(store.state.revision, before.revision, "the revision did not go backwards");
    assert.equal(await store.keepAlive(before.lease), true);
    assert.ok((await store.put("/k/new", "n")) > before.revision);
    await store.close();
    assert.equal(repairStore(dir).dropped.length, 0, "a second repair finds nothing");
  });

  test("when the damaged record granted a lease, repair also drops the keys on it, and says so", async () => {
    const dir = freshDir();
    const before = await populate(dir, 3);
    damage(dir, 0); // the grant
    const report = repairStore(dir);
    assert.equal(report.dropped.length, 2);
    assert.match(
      report.dropped[1]?.reason ?? "",
      /put of \/leased\/n1 no longer applies: lease .* not found/,
    );
    const { store } = open(dir);
    assert.equal(await store.get("/leased/n1"), undefined);
    assert.equal((await store.get("/k/2"))?.modRevision, byKey(before.items).get("/k/2")?.modRevision);
    assert.notEqual(await store.grantLease(10), before.lease, "lease ids are not handed out twice");
    await store.close();
  });

  test("the CLI: `strata datastore` exits 1 with one line naming file and offset; `datastore repair` prints what it dropped", async () => {
    const dir = freshDir();
    await populate(dir);
    const { file, offset } = damage(dir, 3);
    const cli = join(packageRoot, "bin/strata.js");
    const refused = await run(process.execPath, [
      cli,
      "datastore",
      "--socket",
      join(dir, "s.sock"),
      "--dir",
      dir,
    ]).then(
      () => assert.fail("the store started"),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    assert.match(
      refused.stderr,
      new RegExp(`${file} is damaged at byte ${offset} .*strata datastore repair --dir ${dir}`),
    );
    const repaired = await run(process.execPath, [cli, "datastore", "repair", "--dir", dir]);
    assert.match(
      repaired.stdout,
      new RegExp(
        `dropped ${file} bytes ${offset}\\.\\.\\d+ \\(\\d+ bytes\\): a record whose checksum does not match`,
      ),
    );
    assert.match(repaired.stdout, /kept 6 records/);
  });
});

describe("log generations and the old line log", () => {
  test("logs are replayed in generation order; a missing generation refuses", async () => {
    const dir = freshDir();
    await open(dir).store.close();
    writeFileSync(
      walFile(dir, 1),
      Buffer.concat([
        encodeLogRecord({ op: "put", key: "/a", value: "1" }, 1),
        encodeLogRecord({ op: "put", key: "/b", value: "2" }, 2),
      ]),
    );
    writeFileSync(walFile(dir, 2), encodeLogRecord({ op: "put", key: "/a", value: "3" }, 3));
    const { store } = open(dir);
    assert.deepEqual(
      (await store.list("/")).items.map((kv) => [kv.key, kv.value, kv.modRevision, kv.createRevision]),
      [
        ["/a", "3", 3, 1],
        ["/b", "2", 2, 2],
      ],
    );
    assert.equal(await store.put("/c", "4"), 4, "appends go to the newest generation");
    await store.close();
    assert.equal(scanRecords(readFileSync(walFile(dir, 2))).records.length, 2);
    rmSync(walFile(dir, 1));
    writeFileSync(walFile(dir, 3), new Uint8Array(0));
    rmSync(walFile(dir, 2));
    writeFileSync(walFile(dir, 1), new Uint8Array(0));
    assert.throws(() => open(dir), /wal-0000000002\.kv is damaged at byte 0 \(this log file is missing\)/);
  });

  test("the line log of earlier versions is converted once, keeping revisions and leases; a torn last line is ignored", async () => {
    const dir = freshDir();
    await open(dir).store.close();
    rmSync(walFile(dir, 1));
    const lines = [
      { op: "grant", lease: "1", ttl: 600 },
      { op: "put", key: "/a", value: "1", lease: "1" },
      { op: "put", key: "/b", value: "2" },
      { op: "delete", key: "/b" },
      { op: "put", key: "/c", value: "3" },
    ];
    writeFileSync(
      legacyLogFile(dir),
      `${lines.map((l) => JSON.stringify(l)).join("\n")}\n{"op":"put","key":"/d","va`,
    );
    const { store, notes } = open(dir);
    assert.equal(notes.length, 2);
    assert.match(notes[0] as string, /ignored a torn last line of .*kv\.log at byte \d+/);
    assert.match(notes[1] as string, /converted the line log .*kv\.log \(6 lines, revision 4\)/);
    assert.equal(existsSync(legacyLogFile(dir)), false);
    assert.equal(existsSync(snapshotFile(dir)), true);
    assert.deepEqual(
      (await store.list("/")).items.map((kv) => [kv.key, kv.modRevision, kv.lease]),
      [
        ["/a", 1, "1"],
        ["/c", 4, undefined],
      ],
    );
    assert.equal(await store.keepAlive("1"), true);
    assert.equal(await store.grantLease(5), "2");
    await store.close();
  });

  test("a bad line in the middle of the old log refuses, naming kv.log and the offset", async () => {
    const dir = freshDir();
    await open(dir).store.close();
    const good = JSON.stringify({ op: "put", key: "/a", value: "1" });
    writeFileSync(legacyLogFile(dir), `${good}\n{"op":"pu\n${good}\n`);
    assert.throws(() => open(dir), new RegExp(`kv\\.log is damaged at byte ${good.length + 1} `));
  });
});

describe("requests the store refuses", () => {
  test("a put on an unknown lease, or over the record size limit, fails alone in its batch and is never logged", async () => {
    const dir = freshDir();
    const { store } = open(dir);
    const [a, b, c, d] = await Promise.allSettled([
      store.put("/a", "1"),
      store.put("/b", "2", { lease: "999" }),
      store.put("/c", "x".repeat(MAX_PAYLOAD_BYTES)),
      store.put("/d", "4"),
    ]);
    assert.deepEqual([a.status, d.status], ["fulfilled", "fulfilled"]);
    assert.equal(a.status === "fulfilled" && a.value, 1);
    assert.equal(d.status === "fulfilled" && d.value, 2, "the refused writes took no revision");
    assert.ok(b.status === "rejected" && b.reason instanceof DatastoreError && b.reason.kind === "invalid");
    assert.match(b.status === "rejected" ? String(b.reason.message) : "", /lease 999 not found/);
    assert.match(
      c.status === "rejected" ? String(c.reason.message) : "",
      /larger than the 16777216-byte limit/,
    );
    await store.close();
    const { store: again, notes } = open(dir);
    assert.deepEqual(notes, [], "the log is clean");
    assert.deepEqual(
      (await again.list("/")).items.map((kv) => kv.key),
      ["/a", "/d"],
    );
    await again.close();
  });
});

describe("group commit", () => {
  test("concurrent writers share fsyncs; each is answered only once durable, with its own revision", async () => {
    const dir = freshDir();
    const { store } = open(dir);
    for (let i = 0; i < 5; i++) await store.put(`/seq/${i}`, "x");
    assert.equal(store.stats.batches, 5, "one fsync per sequential write");
    const revs = await Promise.all(Array.from({ length: 64 }, (_, i) => store.put(`/con/${i}`, "y")));
    assert.deepEqual(
      [...revs].sort((a, b) => a - b),
      Array.from({ length: 64 }, (_, i) => 6 + i),
    );
    const batches = store.stats.batches - 5;
    assert.ok(batches >= 1 && batches < 64, `64 concurrent writes took ${batches} fsyncs`);
    await store.close();
    const again = open(dir).store;
    assert.equal((await again.list("/con/")).items.length, 64, "all of them on disk");
    await again.close();
  });
});

describe("snapshot and compaction", () => {
  test("the logs shrink to a snapshot; after a restart the state, revisions and leases are identical", async () => {
    const dir = freshDir();
    const { store } = open(dir, { compactBytes: 16 * 1024 });
    const lease = await store.grantLease(600);
    await store.put("/leased", "l", { lease });
    const written = 600;
    for (let round = 0; round < written / 10; round++)
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.put(`/k/${i}`, `round ${round} ${"p".repeat(50)}`)),
      );
    await store.flush();
    assert.ok(store.stats.compactions >= 1, "compacted");
    const diskBytes = () => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.ok(existsSync(snapshotFile(dir)));
    assert.ok(diskBytes() < 40 * 1024, `the directory holds ${diskBytes()} bytes after ${written} writes`);
    assert.ok(readdirSync(dir).filter((f) => f.startsWith("wal-")).length === 1, "old logs removed");
    const items = (await store.list("/")).items;
    const revision = store.state.revision;
    await store.close();
    const { store: again, notes } = open(dir);
    assert.deepEqual(notes, []);
    assert.deepEqual((await again.list("/")).items, items);
    assert.equal(again.state.revision, revision);
    assert.equal(await again.keepAlive(lease), true);
    assert.equal(await again.put("/next", "n"), revision + 1);
    // History before the snapshot is gone: an old watcher gets a resync, a current one the events.
    const ac = new AbortController();
    const old = again.watch("/k/", 1, ac.signal)[Symbol.asyncIterator]();
    const first = (await old.next()).value as WatchEvent;
    assert.equal(first.type, "resync");
    ac.abort();
    await again.close();
  });

  test("a damaged snapshot refuses to start; repair keeps its other keys, its revision and its leases", async () => {
    const dir = freshDir();
    const before = await populate(dir, 6);
    const { store } = open(dir);
    await store.compact();
    await store.close();
    const bytes = readFileSync(snapshotFile(dir));
    // Records: header, the lease, /leased/n1, /k/0 ... /k/5 (map order), end.
    const rec = scanRecords(bytes).records[4];
    assert.ok(rec);
    bytes[rec.offset + 20] = (bytes[rec.offset + 20] as number) ^ 0x02;
    writeFileSync(snapshotFile(dir), bytes);
    assert.throws(() => open(dir), new RegExp(`snapshot\\.kv is damaged at byte ${rec.offset} `));
    const report = repairStore(dir);
    assert.deepEqual(
      report.dropped.map((d) => [d.file, d.offset]),
      [[snapshotFile(dir), rec.offset]],
    );
    const { store: again, notes } = open(dir);
    assert.deepEqual(notes, []);
    const want = byKey(before.items);
    want.delete("/k/1");
    assert.deepEqual(byKey((await again.list("/")).items), want);
    assert.equal(again.state.revision, before.revision);
    assert.equal(await again.keepAlive(before.lease), true);
    await again.close();
  });

  test("a snapshot with leftover older logs (a crash before their removal) replays nothing twice", async () => {
    const dir = freshDir();
    const { store } = open(dir, { compactBytes: 1e9 });
    for (let i = 0; i < 20; i++) await store.put(`/k/${i % 4}`, `v${i}`);
    await store.close();
    const oldLog = readFileSync(walFile(dir, 1));
    const { store: s2 } = open(dir, { compactBytes: 1 });
    await s2.put("/k/0", "last");
    await s2.flush();
    assert.equal(s2.stats.compactions, 1);
    const items = (await s2.list("/")).items;
    await s2.close();
    writeFileSync(walFile(dir, 1), oldLog);
    const { store: s3 } = open(dir);
    assert.deepEqual((await s3.list("/")).items, items);
    assert.equal(existsSync(walFile(dir, 1)), false);
    await s3.close();
  });
});
