import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KeyValue } from "../datastore/api.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { checkLease, type LeasePolicy, subnetKey, validateLeases } from "./lease-validation.js";
import { leaseFamilies, leaseValue, type NodeLease } from "./node-lease.js";
import { type LeaseRequest, SubnetLeases, SubnetTakenError } from "./subnet-leases.js";

const only6: LeasePolicy = { clusterCidr: "fd00:10:244::/56", subnetLen: 64 };
const v4only: LeasePolicy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };
const dual: LeasePolicy = { ...v4only, clusterCidr6: "fd00:10:244::/56", subnetLen6: 64 };

/** A stored IPv6-only lease, as Flannel writes one with EnableIPv4=false: no subnet, no publicIp. */
const stored = (i: number, o: Record<string, unknown> = {}): Record<string, unknown> => ({
  node: `n${i}`,
  subnet6: `fd00:10:244:${i}::/64`,
  publicIp6: `fd00:192:168:10::${10 + i}`,
  publicPrefix: 64,
  backend: "bgp",
  backendData: {},
  ...o,
});
let revision = 0;
const kv = (v: Record<string, unknown>, key = subnetKey(String(v.subnet ?? v.subnet6))): KeyValue => {
  revision++;
  return { key, value: JSON.stringify(v), createRevision: revision, modRevision: revision };
};
const reasonOf = (v: Record<string, unknown>, p = only6, key?: string) => {
  const r = checkLease(kv(v, key), p);
  return r.ok ? "ok" : r.rejected.reason;
};

describe("IPv6-only lease rules (datastore contents are hostile)", () => {
  test("a lease with only subnet6 and publicIp6 passes; in memory they are its subnet and publicIp", () => {
    const r = checkLease(kv(stored(2)), only6);
    assert.ok(r.ok);
    assert.deepEqual(r.lease, {
      node: "n2",
      subnet: "fd00:10:244:2::/64",
      publicIp: "fd00:192:168:10::12",
      publicPrefix: 64,
      backend: "bgp",
      backendData: {},
    });
    assert.deepEqual(leaseFamilies(r.lease), [6]);
  });

  test("written back, it is the stored form again (leaseValue), under the key its subnet6 names", () => {
    const r = checkLease(kv(stored(2)), only6);
    assert.ok(r.ok);
    assert.deepEqual(JSON.parse(leaseValue(r.lease)), stored(2));
    assert.equal(subnetKey(r.lease.subnet), "/strata/subnets/fd00:10:244:2::-64");
  });

  test("a lease carries at least one family; each is checked as before", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ subnet6: undefined }, "malformed"],
      [{ publicIp6: undefined }, "malformed"],
      [{ subnet6: undefined, publicIp6: undefined }, "malformed"],
      [{ subnet6: "fd00:10:244:2::1/64" }, "malformed"],
      [{ subnet6: "FD00:10:244:2::/64" }, "malformed"],
      [{ subnet6: "10.244.2.0/24" }, "malformed"],
      [{ publicIp6: "192.168.10.12" }, "malformed"],
      [{ publicPrefix: 129 }, "malformed"],
      [{ subnet6: "fd00:10:245:2::/64" }, "outside-cluster-cidr"],
      [{ subnet6: "fd00:10:244:2::/80" }, "wrong-prefix-length"],
      [{ publicIp6: "fe80::12" }, "bad-public-ip"],
      [{ publicIp6: "::1" }, "bad-public-ip"],
      [{ publicIp6: "ff02::1" }, "bad-public-ip"],
      [{ publicIp6: "fd00:10:244:9::1" }, "bad-public-ip"],
    ];
    for (const [bad, reason] of cases)
      assert.equal(
        reasonOf({ ...stored(2), ...bad }, only6, subnetKey("fd00:10:244:2::/64")),
        reason,
        JSON.stringify(bad),
      );
  });

  test("a lease under another subnet's key is refused (key-mismatch)", () => {
    assert.equal(reasonOf(stored(2), only6, subnetKey("fd00:10:244:3::/64")), "key-mismatch");
  });

  test("an IPv4 or dual-stack lease is refused on an IPv6-only cluster, and an IPv6-only lease on the others", () => {
    const v4 = {
      node: "n2",
      subnet: "10.244.2.0/24",
      publicIp: "192.168.10.12",
      publicPrefix: 24,
      backend: "bgp",
      backendData: {},
    };
    assert.equal(reasonOf(v4, only6), "outside-cluster-cidr");
    assert.equal(
      reasonOf({ ...v4, subnet6: "fd00:10:244:2::/64", publicIp6: "fd00:192:168:10::12" }, only6),
      "outside-cluster-cidr",
    );
    // The schema has always allowed an IPv6 `subnet`; beside an IPv4 publicIp it is no IPv6-only lease.
    assert.equal(reasonOf({ ...v4, subnet: "fd00:10:244:2::/64" }, only6), "outside-cluster-cidr");
    assert.equal(reasonOf(stored(2), dual), "outside-cluster-cidr");
    assert.equal(reasonOf(stored(2), v4only), "outside-cluster-cidr");
  });

  test("IPv4 and dual-stack leases validate exactly as before (old leases stay good)", () => {
    const v4 = {
      node: "n2",
      subnet: "10.244.2.0/24",
      publicIp: "192.168.10.12",
      publicPrefix: 24,
      backend: "bgp",
      backendData: {},
    };
    assert.equal(reasonOf(v4, v4only), "ok");
    assert.equal(
      reasonOf({ ...v4, subnet6: "fd00:10:244:2::/64", publicIp6: "fd00:192:168:10::12" }, dual),
      "ok",
    );
    assert.equal(reasonOf({ ...v4, publicPrefix: 33 }, v4only), "malformed");
    assert.equal(reasonOf({ ...v4, publicIp: undefined }, v4only), "malformed");
  });

  test("two IPv6-only leases with the same subnet, node or address conflict; the older one keeps it", () => {
    const older = kv(stored(2));
    const sameIp = kv(stored(3, { publicIp6: "FD00:192:168:10::12" }));
    const sameNode = kv(stored(4, { node: "n2" }));
    const fine = kv(stored(5));
    const v = validateLeases([fine, sameNode, sameIp, older], only6);
    assert.deepEqual(
      v.leases.map((l) => l.node),
      ["n2", "n5"],
    );
    assert.deepEqual(
      v.rejected.map((r) => [r.node, r.reason, r.winner]),
      [
        ["n3", "duplicate-public-ip", older.key],
        ["n2", "duplicate-node", older.key],
      ],
    );
  });
});

const request = (i: number): LeaseRequest => ({
  node: `n${i}`,
  publicIp: `fd00:192:168:10::${10 + i}`,
  publicPrefix: 64,
  backend: "bgp",
  backendData: {},
  ttlSeconds: 30,
});

describe("IPv6-only subnet leasing", () => {
  test("nodes lease /64s of the IPv6 cluster CIDR, stored the Flannel way; a restart keeps the subnet", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = new SubnetLeases(store, only6);
      const a = await leases.acquire(request(1));
      const b = await leases.acquire(request(2));
      assert.deepEqual([a.lease.subnet, b.lease.subnet], ["fd00:10:244:1::/64", "fd00:10:244:2::/64"]);
      const raw = await store.get(subnetKey("fd00:10:244:1::/64"));
      assert.deepEqual(JSON.parse(raw?.value ?? "{}"), {
        node: "n1",
        subnet6: "fd00:10:244:1::/64",
        publicIp6: "fd00:192:168:10::11",
        publicPrefix: 64,
        backend: "bgp",
        backendData: {},
      });
      const again = await leases.acquire(request(2));
      assert.equal(again.lease.subnet, b.lease.subnet);
      const snap = await leases.snapshot();
      assert.equal(snap.leases.length, 2);
      assert.deepEqual(snap.rejected, []);
    } finally {
      await store.close();
    }
  });

  test("a node takes back the IPv6 subnet its state directory names; one another node holds is refused", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = new SubnetLeases(store, only6);
      const first = await leases.acquire(request(1));
      const back = await leases.acquire(request(2), { subnet: "fd00:10:244:9::/64", source: "subnet.json" });
      assert.equal(back.lease.subnet, "fd00:10:244:9::/64");
      await assert.rejects(
        leases.acquire(request(3), { subnet: first.lease.subnet, source: "subnet.json" }),
        (e: unknown) => e instanceof SubnetTakenError && /now belongs to node n1/.test(e.message),
      );
      await assert.rejects(
        leases.acquire(request(4), { subnet: "fd00:10:245::/64", source: "subnet.json" }),
        (e: unknown) => e instanceof SubnetTakenError && /cannot be leased here/.test(e.message),
      );
    } finally {
      await store.close();
    }
  });

  test("nodes leasing at once end with different IPv6 subnets", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = Array.from({ length: 6 }, () => new SubnetLeases(store, only6));
      const held = await Promise.all(leases.map((l, i) => l.acquire(request(i + 1))));
      assert.equal(new Set(held.map((h) => h.lease.subnet)).size, 6);
    } finally {
      await store.close();
    }
  });
});

/** The in-memory form of an IPv6-only lease (for other tests). */
export const ipv6OnlyLease = (i: number): NodeLease => ({
  node: `n${i}`,
  subnet: `fd00:10:244:${i}::/64`,
  publicIp: `fd00:192:168:10::${10 + i}`,
  publicPrefix: 64,
  backend: "bgp",
  backendData: {},
});
