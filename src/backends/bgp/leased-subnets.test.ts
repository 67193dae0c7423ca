import assert from "node:assert/strict";
import { test } from "node:test";
import { numberedLease } from "../../../test/support/leases.js";
import { prng } from "../../../test/support/prng.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { LeasedSubnets } from "./leased-subnets.js";

const lease = (i: number, s: number, o: Partial<NodeLease> = {}): NodeLease =>
  numberedLease(i, { subnet: `10.244.${s}.0/24`, ...o });

test("followed by identity, the holders are a rebuild's, and every subnet whose holder changed is named", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const rnd = prng(seed);
    const universe = [...Array(40).keys()].flatMap((s) => [`10.244.${s}.0/24`, `fd00:${s}::/64`]);
    const followed = new LeasedSubnets();
    let leases = new Map<number, NodeLease>();
    let incremental = 0;
    for (let step = 0; step < 200; step++) {
      const next = new Map(leases);
      for (let b = 1 + Math.floor(rnd() * 4); b > 0; b--) {
        const i = Math.floor(rnd() * 20);
        const op = rnd();
        const l = next.get(i);
        if (l && op < 0.3) next.delete(i);
        else if (l && op < 0.5)
          next.set(i, { ...l }); // same content, a new object
        else {
          // Mostly a free subnet; sometimes one another lease holds (two share it: invalid, rebuilt).
          const s = Math.floor(rnd() * 40);
          const taken = [...next.values()].some((x) => x.subnet === `10.244.${s}.0/24`);
          if (taken && rnd() < 0.95) continue;
          next.set(i, lease(i, s, rnd() < 0.3 ? { subnet6: `fd00:${s}::/64` } : {}));
        }
      }
      const before = new Map(universe.map((s) => [s, followed.lease(s)]));
      const peers = [...next.values()];
      const touched = followed.update(peers);
      if (touched) incremental++;
      const rebuilt = new LeasedSubnets();
      rebuilt.update(peers);
      for (const s of universe) {
        assert.equal(followed.lease(s), rebuilt.lease(s), `seed ${seed} step ${step}: ${s}`);
        assert.equal(followed.owner(s), rebuilt.owner(s));
        if (touched && before.get(s) !== followed.lease(s))
          assert.ok(touched.has(s), `seed ${seed} step ${step}: ${s} changed hands, not named`);
      }
      leases = next;
    }
    assert.ok(incremental > 100, `most steps followed (${incremental})`);
  }
});

test("the first list and a list where two leases share a subnet are rebuilt (undefined: any subnet may have changed)", () => {
  const l = new LeasedSubnets();
  const a = lease(1, 1);
  const b = lease(2, 2);
  assert.equal(l.update([a]), undefined);
  assert.deepEqual(l.update([a, b]), new Set([b.subnet]));
  const clash = lease(3, 2);
  assert.equal(l.update([a, b, clash]), undefined);
  assert.equal(l.lease(b.subnet), clash, "the last holds it, as a rebuild says");
  assert.equal(l.update([a, b]), undefined, "after a clash: rebuilt once more");
  assert.equal(l.lease(b.subnet), b);
  assert.deepEqual(l.update([a]), new Set([b.subnet]));
  assert.equal(l.owner(a.subnet), "n1 192.168.10.11");
});
