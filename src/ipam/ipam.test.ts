import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryReservationStore } from "../../test/support/ipam-memory-store.js";
import { CniError } from "../cni/errors.js";
import { parseIpamConfig } from "./config.js";
import { allocate, check, gc, release } from "./ipam.js";
import { isCompleteRecord, ownershipOf, parseRecord, reservationRecord } from "./reservation.js";

const set = (raw: unknown) => parseIpamConfig(raw);
const small = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/29" }]] });
const wide = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]] });
const att = (containerId: string, ifName = "eth0") => ({ containerId, ifName });
const hasCode = (code: number) => (err: unknown) => err instanceof CniError && err.cniCode === code;

describe("reservation records (host-local's file content)", () => {
  test('a record is "<containerID>\\r\\n<ifname>"', () => {
    assert.equal(reservationRecord(att("abc", "eth0")), "abc\r\neth0");
    assert.deepEqual(parseRecord("abc\r\neth0"), att("abc", "eth0"));
    assert.ok(isCompleteRecord("abc\r\neth0"));
  });

  test("empty and cut-short records are partial; a bare container id is host-local's old format", () => {
    const o = att("abcdef", "eth0");
    assert.equal(ownershipOf("abcdef\r\neth0", o), "owner");
    assert.equal(ownershipOf("abcdef", o), "legacy-owner");
    assert.equal(ownershipOf("", o), "partial");
    assert.equal(ownershipOf("abc", o), "partial");
    assert.equal(ownershipOf("abcdef\r\neth1", o), "other");
    assert.equal(ownershipOf("zzz", o), "other");
    assert.ok(!isCompleteRecord("abcdef\r\n"));
    assert.ok(!isCompleteRecord(""));
  });
});

describe("ipam operations", () => {
  test("one address per range set (dual stack), idempotent per container+ifname", async () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }], [{ subnet: "fd00::/120" }]] });
    const s = new MemoryReservationStore();
    const a = await allocate(c, s, att("c1"));
    assert.deepEqual(
      a.ips.map((i) => i.address),
      ["10.0.0.2/24", "fd00::2/120"],
    );
    assert.deepEqual(
      a.ips.map((i) => i.gateway),
      ["10.0.0.1", "fd00::1"],
    );
    const again = await allocate(c, s, att("c1"));
    assert.deepEqual(again.ips, a.ips);
    const other = await allocate(c, s, att("c1", "net1"));
    assert.notDeepEqual(other.ips, a.ips);
    assert.equal(s.files.size, 4);
  });

  test("routes and dns come from the configuration", async () => {
    const c = set({
      type: "strata-ipam",
      ranges: [[{ subnet: "10.0.0.0/24" }]],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.0.0/16", gw: "10.0.0.254" }],
      dns: { nameservers: ["10.0.0.53"], search: ["cluster.local"] },
    });
    const a = await allocate(c, new MemoryReservationStore(), att("c1"));
    assert.deepEqual(a.routes, [{ dst: "0.0.0.0/0" }, { dst: "192.168.0.0/16", gw: "10.0.0.254" }]);
    assert.deepEqual(a.dns, { nameservers: ["10.0.0.53"], search: ["cluster.local"] });
  });

  test("a released address is not handed out again at once (round robin)", async () => {
    const s = new MemoryReservationStore();
    const first = await allocate(wide, s, att("a"));
    await release(s, att("a"));
    const second = await allocate(wide, s, att("b"));
    assert.notEqual(second.ips[0]?.address, first.ips[0]?.address);
  });

  test("pool exhaustion is code 100 and names the range; nothing is left reserved by the failed call", async () => {
    const s = new MemoryReservationStore();
    for (let i = 0; i < 5; i++) await allocate(small, s, att(`c${i}`));
    await assert.rejects(allocate(small, s, att("c9")), (err: unknown) => {
      assert.ok(hasCode(100)(err));
      assert.match((err as Error).message, /10\.0\.0\.0\/29/);
      return true;
    });
    assert.equal(s.files.size, 5);
  });

  test("a full second range set undoes the address taken in the first", async () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }], [{ subnet: "fd00::/126" }]] });
    const s = new MemoryReservationStore();
    await allocate(c, s, att("a"));
    await allocate(c, s, att("b"));
    await assert.rejects(allocate(c, s, att("c")), hasCode(100));
    assert.equal(s.files.size, 4, "the IPv4 address of the failed ADD went back");
    assert.deepEqual(await s.indexedAddresses(att("c")), []);
  });

  test("static IPs are honoured and must be free and inside a range", async () => {
    const s = new MemoryReservationStore();
    const a = await allocate(wide, s, att("c1"), ["10.0.0.77/24"]);
    assert.equal(a.ips[0]?.address, "10.0.0.77/24");
    await assert.rejects(allocate(wide, s, att("c2"), ["10.0.0.77"]), /already in use/);
    await assert.rejects(allocate(wide, s, att("c3"), ["192.168.0.1"]), /in no configured range/);
    await assert.rejects(allocate(wide, s, att("c4"), ["nope"]), hasCode(7));
    assert.equal(s.files.size, 1, "failed calls reserve nothing");
  });

  test("CHECK: the owner holds an address in every range set, and the expected ones", async () => {
    const s = new MemoryReservationStore();
    const a = await allocate(wide, s, att("a"));
    await check(wide, s, att("a"));
    await check(wide, s, att("a"), [a.ips[0]?.address ?? ""]);
    await assert.rejects(check(wide, s, att("a"), ["10.0.0.200/24"]), hasCode(103));
    await assert.rejects(check(wide, s, att("zz")), /holds no address/);
  });

  test("DEL releases only the owner's addresses and is idempotent", async () => {
    const s = new MemoryReservationStore();
    await allocate(wide, s, att("a"));
    await allocate(wide, s, att("a", "net1"));
    await allocate(wide, s, att("b"));
    await release(s, att("a"));
    await release(s, att("a"));
    await release(s, att("never"));
    assert.deepEqual([...s.files.values()].map((f) => f.record).sort(), ["a\r\nnet1", "b\r\neth0"]);
  });

  test("DEL releases host-local's reservations (no owner index), including its old format", async () => {
    const s = new MemoryReservationStore();
    s.plant("10.0.0.9", "hl\r\neth0");
    s.plant("10.0.0.10", "hl");
    s.plant("10.0.0.11", "hl\r\neth1");
    await release(s, att("hl"));
    assert.deepEqual([...s.files.keys()], ["10.0.0.11"]);
  });

  test("DEL after a crash mid-reservation removes the empty or cut-short file its index names", async () => {
    const s = new MemoryReservationStore();
    await allocate(wide, s, att("crashy"));
    // As a writer that created the file and died before writing it would leave things:
    await s.writeIndex(att("crashy"), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    s.plant("10.0.0.3", "");
    s.plant("10.0.0.4", "cra");
    s.plant("10.0.0.5", ""); // not named by the index: not this owner's to remove
    await release(s, att("crashy"));
    assert.deepEqual([...s.files.keys()], ["10.0.0.5"]);
  });

  test("GC releases every reservation not listed, and partial files once past the grace period", async () => {
    let now = 1_000_000;
    const s = new MemoryReservationStore(() => now);
    await allocate(wide, s, att("keep"));
    await allocate(wide, s, att("gone"));
    s.plant("10.0.0.50", "");
    s.plant("10.0.0.51", "kee");
    s.plant("10.0.0.52", "keep"); // host-local's old format for a listed container
    const valid = [att("keep")];
    let released = await gc(s, valid, { now, graceMs: 60_000 });
    assert.equal(released.length, 1, "young partial files may be a host-local write in flight");
    assert.equal(await s.indexedAddresses(att("gone")), undefined, "the index of a gone owner is dropped");
    now += 61_000;
    released = await gc(s, valid, { now, graceMs: 60_000 });
    assert.deepEqual(released.sort(), ["10.0.0.50", "10.0.0.51"]);
    assert.deepEqual([...s.files.keys()].sort(), ["10.0.0.2", "10.0.0.52"]);
    await check(wide, s, att("keep"));
  });

  test("GC with no valid attachments empties the network", async () => {
    const s = new MemoryReservationStore();
    for (let i = 0; i < 4; i++) await allocate(wide, s, att(`c${i}`));
    await gc(s, []);
    assert.equal(s.files.size, 0);
    assert.equal(s.index.size, 0);
  });
});
