import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { packageRoot } from "../../cli/paths.js";
import { eventually } from "../../common/eventually.js";
import { type Datastore, DatastoreError, type WatchEvent } from "../api.js";
import { connectEmbedded } from "./client.js";

/**
 * ENOSPC with a real full filesystem: a 64 KiB tmpfs mounted in a private mount namespace (held
 * by a `sleep` so it outlives store restarts), never visible to the machine's own mounts. The
 * store runs as a real `strata datastore` process inside that namespace; the test reaches the
 * tmpfs through /proc/<holder>/root.
 */
describe("a full disk: writes fail clearly, and every acknowledged write survives a restart", () => {
  const base = mkdtempSync(join(tmpdir(), "strata-kvfull-"));
  const mnt = join(base, "mnt");
  const socket = join(base, "sock", "kv.sock");
  let holder: ChildProcess;
  let store: ChildProcess | undefined;
  let storeErr = "";
  const inside = (p: string) => `/proc/${holder.pid}/root${p}`;

  const startStore = async () => {
    storeErr = "";
    rmSync(socket, { force: true });
    const p = spawn(
      "nsenter",
      [
        `--target=${holder.pid}`,
        "--mount",
        "--",
        process.execPath,
        join(packageRoot, "bin/strata.js"),
        "datastore",
        "--socket",
        socket,
        "--dir",
        join(mnt, "data"),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    p.stderr?.setEncoding("utf8").on("data", (d: string) => {
      storeErr += d;
    });
    store = p;
    await eventually(() => existsSync(socket) || p.exitCode !== null, "the store's socket");
    assert.equal(p.exitCode, null, `the store exited: ${storeErr}`);
  };
  const crashStore = async () => {
    const p = store;
    store = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL"); // a crash: nothing is flushed on the way out
    });
  };

  before(async () => {
    mkdirSync(mnt);
    holder = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs -o size=64k,mode=0700 strata-kvfull "$0" && echo mounted && exec sleep 100000',
        mnt,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout
        ?.setEncoding("utf8")
        .once("data", (d: string) => (d.includes("mounted") ? resolve() : reject(new Error(d))));
      holder.once("exit", (code) => reject(new Error(`unshare exited ${code}`)));
    });
  });
  after(async () => {
    await crashStore();
    holder?.kill("SIGKILL"); // the namespace, and with it the tmpfs, goes with its last process
    rmSync(base, { recursive: true, force: true });
  });

  test("ENOSPC fails the write with 'datastore disk full'; nothing unacknowledged ever appears; acknowledged writes survive a crash after space returns", async () => {
    await startStore();
    let client: Datastore = connectEmbedded(socket);
    const lease = await client.grantLease(600);
    await client.put("/leased/n1", "subnet-a", { lease });
    const startRev = (await client.list("/")).revision;
    const ac = new AbortController();
    const seen: WatchEvent[] = [];
    void (async () => {
      for await (const e of client.watch("/", startRev, ac.signal)) seen.push(e);
    })().catch(() => {});

    const acked = new Map<string, { value: string; rev: number }>();
    const failed: string[] = [];
    const attempt = async (key: string, value: string) => {
      try {
        acked.set(key, { value, rev: await client.put(key, value) });
      } catch (err) {
        assert.ok(err instanceof DatastoreError, String(err));
        assert.equal(err.kind, "unavailable", "a refused write can be retried, like an outage");
        assert.match(
          err.message,
          /^datastore disk full: appending to .*wal-\d+\.kv failed \(ENOSPC\); the write was not applied/,
        );
        failed.push(key);
      }
    };

    for (let i = 0; i < 3; i++) await attempt(`/before/${i}`, `v${i}`);
    // Fill the filesystem from outside the store.
    const filler = inside(join(mnt, "filler"));
    const page = Buffer.alloc(4096, 0x61);
    for (let i = 0; i < 64; i++) {
      try {
        writeFileSync(filler, page, { flag: "a" });
      } catch (err) {
        assert.equal((err as { code?: string }).code, "ENOSPC");
        break;
      }
    }
    // Sequential writers, then concurrent ones, while the disk is full.
    for (let i = 0; i < 12; i++) await attempt(`/full/seq/${i}`, "x".repeat(700 + i));
    await Promise.all(Array.from({ length: 16 }, (_, i) => attempt(`/full/con/${i}`, "y".repeat(900))));
    assert.ok(failed.length >= 16, `writes on the full disk failed: ${failed.length}`);
    for (const key of failed)
      assert.equal(await client.get(key), undefined, `${key} failed and is not there`);

    // Space returns: the store goes on by itself.
    rmSync(filler);
    for (let i = 0; i < 3; i++) await attempt(`/after/${i}`, `a${i}`);
    for (let i = 0; i < 3; i++) assert.ok(acked.has(`/after/${i}`), "writes succeed again");
    ac.abort();
    const failedSet = new Set(failed);
    for (const e of seen)
      if (e.type === "put") assert.ok(!failedSet.has(e.kv.key), `no watcher heard of ${e.kv.key}`);

    await client.close();
    await crashStore();
    await startStore();
    assert.doesNotMatch(storeErr, /torn/, "no partial record was left behind");
    client = connectEmbedded(socket);
    for (const [key, { value, rev }] of acked) {
      const kv = await client.get(key);
      assert.equal(kv?.value, value, `${key} acknowledged, so it survives`);
      assert.equal(kv?.modRevision, rev);
    }
    for (const key of failed)
      assert.equal(await client.get(key), undefined, `${key} never acknowledged, never there`);
    const maxAcked = Math.max(...[...acked.values()].map((a) => a.rev));
    assert.ok((await client.list("/")).revision >= maxAcked, "revisions did not go backwards");
    assert.ok((await client.put("/next", "n")) > maxAcked);
    assert.equal(await client.keepAlive(lease), true, "the lease is intact");
    assert.equal((await client.get("/leased/n1"))?.value, "subnet-a");
    await client.close();
  });
});
