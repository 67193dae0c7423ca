import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MemoryReservationStore } from "../../test/support/ipam-memory-store.js";
import { DiskReservationStore } from "./disk-store.js";
import type { ReservationStore } from "./store.js";

const root = mkdtempSync(join(tmpdir(), "strata-ipam-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDisk = () => new DiskReservationStore(join(root, `d${n++}`), "net");
const att = (containerId: string, ifName = "eth0") => ({ containerId, ifName });

// One contract, every implementation: the fake must behave like the disk.
const implementations: [string, () => ReservationStore][] = [
  ["disk", freshDisk],
  ["memory", () => new MemoryReservationStore()],
];
for (const [name, make] of implementations) {
  describe(`reservation store contract: ${name}`, () => {
    test("of concurrent reservations of one address exactly one wins", async () => {
      const s = make();
      const wins = await Promise.all(
        Array.from({ length: 20 }, (_, i) => s.reserve("10.0.0.5", att(`c${i}`), 0)),
      );
      assert.equal(wins.filter(Boolean).length, 1);
      const holder = await s.holder("10.0.0.5");
      assert.equal(holder?.ifName, "eth0");
      assert.equal(holder?.record, `${holder?.containerId}\r\neth0`);
    });

    test("remembers the last reserved address per range set", async () => {
      const s = make();
      assert.equal(await s.lastReserved(0), undefined);
      await s.reserve("10.0.0.5", att("a"), 0);
      await s.reserve("fd00::7", att("a"), 1);
      assert.equal(await s.lastReserved(0), "10.0.0.5");
      assert.equal(await s.lastReserved(1), "fd00::7");
    });

    test("lists reservations; remove is idempotent; an empty store lists nothing", async () => {
      const s = make();
      assert.deepEqual(await s.list(), []);
      await s.reserve("10.0.0.5", att("a"), 0);
      await s.reserve("fd00::5", att("b", "net1"), 1);
      assert.deepEqual((await s.list()).map((r) => `${r.ip} ${r.containerId} ${r.ifName}`).sort(), [
        "10.0.0.5 a eth0",
        "fd00::5 b net1",
      ]);
      await s.remove("10.0.0.5");
      await s.remove("10.0.0.5");
      assert.equal(await s.holder("10.0.0.5"), undefined);
      assert.equal((await s.list()).length, 1);
    });

    test("owner index: written, read, listed, dropped", async () => {
      const s = make();
      assert.equal(await s.indexedAddresses(att("a")), undefined);
      await s.writeIndex(att("a"), ["10.0.0.5", "fd00::5"]);
      await s.writeIndex(att("a", "net1"), []);
      assert.deepEqual(await s.indexedAddresses(att("a")), ["10.0.0.5", "fd00::5"]);
      assert.deepEqual(await s.indexedAddresses(att("a", "net1")), []);
      assert.deepEqual((await s.indexedOwners()).map((o) => `${o.containerId}/${o.ifName}`).sort(), [
        "a/eth0",
        "a/net1",
      ]);
      await s.dropIndex(att("a"));
      await s.dropIndex(att("a"));
      assert.equal(await s.indexedAddresses(att("a")), undefined);
    });
  });
}

describe("disk store: host-local's layout", () => {
  test('one file per address named by it, holding "<containerID>\\r\\n<ifname>"; last_reserved_ip.<set>', async () => {
    const s = freshDisk();
    await s.reserve("10.0.0.5", att("abc"), 0);
    await s.reserve("fd00::1:5", att("abc"), 1);
    assert.equal(readFileSync(join(s.dir, "10.0.0.5"), "utf8"), "abc\r\neth0");
    assert.equal(readFileSync(join(s.dir, "fd00::1:5"), "utf8"), "abc\r\neth0");
    assert.equal(readFileSync(join(s.dir, "last_reserved_ip.0"), "utf8"), "10.0.0.5");
    assert.equal(readFileSync(join(s.dir, "last_reserved_ip.1"), "utf8"), "fd00::1:5");
    assert.deepEqual(
      readdirSync(s.dir)
        .filter((f) => !f.startsWith("."))
        .sort(),
      ["10.0.0.5", "fd00::1:5", "last_reserved_ip.0", "last_reserved_ip.1"],
      "no temp file is left behind",
    );
  });

  test("host-local's lock file, last_reserved_ip files and Strata's own files are not reservations", async () => {
    const s = freshDisk();
    await s.reserve("10.0.0.5", att("a"), 0);
    await s.writeIndex(att("a"), ["10.0.0.5"]);
    writeFileSync(join(s.dir, "lock"), "");
    writeFileSync(join(s.dir, ".strata-tmp-1-abcd"), "x\r\neth0");
    assert.deepEqual(
      (await s.list()).map((r) => r.ip),
      ["10.0.0.5"],
    );
  });

  test("reads files a crashed writer left empty or cut short, with their age", async () => {
    const s = freshDisk();
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(join(s.dir, "10.0.0.9"), "");
    writeFileSync(join(s.dir, "10.0.0.10"), "abc");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(s.dir, "10.0.0.10"), old, old);
    const byIp = new Map((await s.list()).map((r) => [r.ip, r]));
    assert.equal(byIp.get("10.0.0.9")?.record, "");
    assert.equal(byIp.get("10.0.0.10")?.record, "abc");
    assert.ok((byIp.get("10.0.0.10")?.modifiedMs ?? Infinity) < Date.now() - 3_000_000);
  });

  test("sweeps only abandoned temp files older than the cut-off", async () => {
    const s = freshDisk();
    await s.writeIndex(att("a"), []);
    const oldTmp = join(s.dir, ".strata-tmp-99-0000");
    const oldIndexTmp = join(s.dir, ".strata-owners", ".strata-tmp-99-0001");
    const youngTmp = join(s.dir, ".strata-tmp-99-0002");
    for (const p of [oldTmp, oldIndexTmp, youngTmp]) writeFileSync(p, "a\r\neth0");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(oldTmp, old, old);
    utimesSync(oldIndexTmp, old, old);
    await s.sweepAbandonedWrites(Date.now() - 60_000);
    assert.deepEqual(
      readdirSync(s.dir).filter((f) => f.startsWith(".strata-tmp")),
      [".strata-tmp-99-0002"],
    );
    assert.deepEqual(readdirSync(join(s.dir, ".strata-owners")), ["a@eth0"]);
  });

  test("a missing directory reads as empty; writable is false when the data dir cannot exist", async () => {
    const s = freshDisk();
    assert.deepEqual(await s.list(), []);
    assert.equal(await s.holder("10.0.0.1"), undefined);
    assert.deepEqual(await s.indexedOwners(), []);
    assert.ok(await s.writable());
    const file = join(root, "a-file");
    writeFileSync(file, "");
    assert.equal(await new DiskReservationStore(file, "net").writable(), false);
  });
});
