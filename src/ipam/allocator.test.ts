import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseIp } from "./address.js";
import { candidates } from "./allocator.js";
import { parseIpamConfig } from "./config.js";
import { allocate, check, gc, release } from "./ipam.js";
import type { Reservation, ReservationStore } from "./store.js";

/** In-memory store with the same contract as the disk store. */
class MemoryStore implements ReservationStore {
  readonly held = new Map<string, Reservation>();
  readonly last = new Map<number, string>();
  async reserve(ip: string, containerId: string, ifName: string, idx: number) {
    if (this.held.has(ip)) return false;
    this.held.set(ip, { ip, containerId, ifName });
    this.last.set(idx, ip);
    return true;
  }
  async lastReserved(idx: number) {
    return this.last.get(idx);
  }
  async list() {
    return [...this.held.values()];
  }
  async remove(ip: string) {
    this.held.delete(ip);
  }
  async writable() {
    return true;
  }
  readonly index = new Map<string, string[]>();
  async indexedAddresses(c: string, i: string) {
    return this.index.get(`${c}@${i}`);
  }
  async writeIndex(c: string, i: string, ips: readonly string[]) {
    this.index.set(`${c}@${i}`, [...ips]);
  }
  async dropIndex(c: string, i: string) {
    this.index.delete(`${c}@${i}`);
  }
  async indexedOwners() {
    return [...this.index.keys()].map((k) => ({
      containerId: k.split("@")[0] ?? "",
      ifName: k.split("@")[1] ?? "",
    }));
  }
  async holder(ip: string) {
    return this.held.get(ip);
  }
}

const set = (raw: unknown) => parseIpamConfig(raw);
const small = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/29" }]] });

describe("allocator", () => {
  test("walks the range skipping the gateway, network and broadcast", () => {
    const ips = [...candidates(small.rangeSets[0] ?? [])].map((c) => c.ip);
    assert.deepEqual(ips, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  });

  test("starts after the last reserved address and wraps around (no immediate reuse)", () => {
    const ips = [...candidates(small.rangeSets[0] ?? [], parseIp("10.0.0.4"))].map((c) => c.ip);
    assert.deepEqual(ips, ["10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  });

  test("continues into the next range of the set", () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/30" }, { subnet: "10.0.1.0/30" }]] });
    assert.deepEqual(
      [...candidates(c.rangeSets[0] ?? [])].map((x) => x.ip),
      ["10.0.0.2", "10.0.1.2"],
    );
  });
});

describe("ipam operations", () => {
  test("one address per range set (dual stack), idempotent per container+ifname", async () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }], [{ subnet: "fd00::/120" }]] });
    const s = new MemoryStore();
    const a = await allocate(c, s, { containerId: "c1", ifName: "eth0" });
    assert.deepEqual(
      a.ips.map((i) => i.address),
      ["10.0.0.2/24", "fd00::2/120"],
    );
    const again = await allocate(c, s, { containerId: "c1", ifName: "eth0" });
    assert.deepEqual(again.ips, a.ips);
    const other = await allocate(c, s, { containerId: "c1", ifName: "net1" });
    assert.notDeepEqual(other.ips, a.ips);
  });

  test("pool exhaustion is code 100 and names the range; nothing is left reserved by the failed call", async () => {
    const s = new MemoryStore();
    for (let i = 0; i < 5; i++) await allocate(small, s, { containerId: `c${i}`, ifName: "eth0" });
    await assert.rejects(
      allocate(small, s, { containerId: "c9", ifName: "eth0" }),
      (err: Error & { cniCode?: number }) => {
        assert.equal(err.cniCode, 100);
        assert.match(err.message, /10\.0\.0\.0\/29/);
        return true;
      },
    );
    assert.equal(s.held.size, 5);
  });

  test("static IPs are honoured and must be free and inside a range", async () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]] });
    const s = new MemoryStore();
    const a = await allocate(c, s, { containerId: "c1", ifName: "eth0" }, ["10.0.0.77"]);
    assert.equal(a.ips[0]?.address, "10.0.0.77/24");
    await assert.rejects(
      allocate(c, s, { containerId: "c2", ifName: "eth0" }, ["10.0.0.77"]),
      /already in use/,
    );
    await assert.rejects(
      allocate(c, s, { containerId: "c3", ifName: "eth0" }, ["192.168.0.1"]),
      /in no configured range/,
    );
    assert.equal(s.held.size, 1, "failed calls reserve nothing");
  });

  test("release, check and GC", async () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]] });
    const s = new MemoryStore();
    await allocate(c, s, { containerId: "a", ifName: "eth0" });
    await allocate(c, s, { containerId: "b", ifName: "eth0" });
    await check(c, s, { containerId: "a", ifName: "eth0" });
    await assert.rejects(check(c, s, { containerId: "zz", ifName: "eth0" }), /holds no address/);
    const released = await gc(s, [{ containerId: "a", ifName: "eth0" }]);
    assert.equal(released.length, 1);
    await release(s, { containerId: "a", ifName: "eth0" });
    await release(s, { containerId: "a", ifName: "eth0" });
    assert.equal(s.held.size, 0);
  });
});
