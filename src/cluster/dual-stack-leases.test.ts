import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KeyValue } from "../datastore/api.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { checkLease, type LeasePolicy, subnetKey, validateLeases } from "./lease-validation.js";
import type { NodeLease } from "./node-lease.js";
import { type LeaseRequest, SubnetLeases, SubnetTakenError } from "./subnet-leases.js";

const v4only: LeasePolicy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };
const dual: LeasePolicy = { ...v4only, clusterCidr6: "fd00:10:244::/56", subnetLen6: 64 };
const lease = (i: number, o: Partial<NodeLease> = {}): NodeLease => ({
  node: `n${i}`,
  subnet: `10.244.${i}.0/24`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  subnet6: `fd00:10:244:${i}::/64`,
  publicIp6: `fd00:192:168:10::${10 + i}`,
  backend: "bgp",
  backendData: {},
  ...o,
});
let revision = 0;
const kv = (v: NodeLease | Record<string, unknown>): KeyValue => {
  revision++;
  return {
    key: subnetKey(String(v.subnet)),
    value: JSON.stringify(v),
    createRevision: revision,
    modRevision: revision,
  };
};
const reasonOf = (v: Record<string, unknown>, p = dual) => {
  const r = checkLease(kv(v), p);
  return r.ok ? "ok" : r.rejected.reason;
};

describe("dual-stack lease rules (datastore contents are hostile)", () => {
  test("a dual-stack lease inside both cluster CIDRs passes with its IPv6 fields", () => {
    const r = checkLease(kv(lease(2)), dual);
    assert.deepEqual(r.ok && r.lease, lease(2));
  });

  test("a lease without subnet6 stays valid under a dual-stack policy (an older agent's, an IPv4-only node)", () => {
    const { subnet6: _s, publicIp6: _p, ...old } = lease(2);
    assert.equal(reasonOf(old), "ok");
  });

  test("an IPv4-only policy keeps a dual-stack lease but drops its IPv6 fields (it routes no IPv6)", () => {
    const r = checkLease(kv(lease(2)), v4only);
    assert.equal(r.ok && r.lease.subnet6, undefined);
    assert.equal(r.ok && r.lease.publicIp6, undefined);
    assert.equal(r.ok && r.lease.subnet, "10.244.2.0/24");
  });

  test("subnet6 and publicIp6 are checked: shape, pairing, cluster CIDR, length, canonical form, usable address", () => {
    const cases: [Partial<NodeLease> | Record<string, unknown>, string][] = [
      [{ subnet6: "10.1.0.0/24" }, "malformed"],
      [{ subnet6: "fd00:10:244:2::/129" }, "malformed"],
      [{ publicIp6: "fd00::1; ip route flush" }, "malformed"],
      [{ publicIp6: undefined }, "malformed"],
      [{ subnet6: undefined }, "malformed"],
      [{ subnet6: "fd00:10:244:2::1/64" }, "malformed"],
      [{ subnet6: "FD00:10:244:2::/64" }, "malformed"],
      [{ subnet6: "fd00:10:245:2::/64" }, "outside-cluster-cidr"],
      [{ subnet6: "fd00:10:244::/48" }, "outside-cluster-cidr"],
      [{ subnet6: "fd00:10:244:2::/80" }, "wrong-prefix-length"],
      [{ publicIp6: "fe80::1" }, "bad-public-ip"],
      [{ publicIp6: "::1" }, "bad-public-ip"],
      [{ publicIp6: "ff02::1" }, "bad-public-ip"],
      [{ publicIp6: "::" }, "bad-public-ip"],
      [{ publicIp6: "::ffff:192.168.10.12" }, "bad-public-ip"],
      [{ publicIp6: "fd00:10:244:7::1" }, "bad-public-ip"],
    ];
    for (const [bad, reason] of cases)
      assert.equal(reasonOf({ ...lease(2), ...bad }), reason, JSON.stringify(bad));
  });

  test("publicIp6 is kept in its canonical text (next hops compare as text)", () => {
    const r = checkLease(kv(lease(2, { publicIp6: "FD00:192:168:10:0:0:0:12" })), dual);
    assert.equal(r.ok && r.lease.publicIp6, "fd00:192:168:10::12");
  });

  test("two leases with the same subnet6 or publicIp6 conflict, and the older one keeps it", () => {
    const older = kv(lease(2));
    const sameSubnet6 = kv(lease(3, { subnet6: "fd00:10:244:2::/64" }));
    const sameIp6 = kv(lease(4, { publicIp6: "fd00:192:168:10::12" }));
    const fine = kv(lease(5));
    const v = validateLeases([fine, sameIp6, sameSubnet6, older], dual);
    assert.deepEqual(
      v.leases.map((l) => l.node),
      ["n2", "n5"],
    );
    assert.deepEqual(
      v.rejected.map((r) => [r.node, r.reason, r.winner]),
      [
        ["n3", "overlap", older.key],
        ["n4", "duplicate-public-ip", older.key],
      ],
    );
  });
});

const request = (i: number, o: Partial<LeaseRequest> = {}): LeaseRequest => ({
  node: `n${i}`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  publicIp6: `fd00:192:168:10::${10 + i}`,
  backend: "bgp",
  backendData: {},
  ttlSeconds: 30,
  ...o,
});

describe("dual-stack subnet leasing", () => {
  test("a node leases an IPv4 and an IPv6 subnet; a restart keeps both", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = new SubnetLeases(store, dual);
      const a = await leases.acquire(request(1));
      const b = await leases.acquire(request(2));
      assert.deepEqual([a.lease.subnet6, a.lease.publicIp6], ["fd00:10:244:1::/64", "fd00:192:168:10::11"]);
      assert.equal(b.lease.subnet6, "fd00:10:244:2::/64");
      const again = await leases.acquire(request(2));
      assert.deepEqual([again.lease.subnet, again.lease.subnet6], [b.lease.subnet, b.lease.subnet6]);
      assert.equal((await leases.snapshot()).leases.length, 2);
    } finally {
      await store.close();
    }
  });

  test("a node whose datastore lease is gone takes back the IPv6 subnet its state directory names", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = new SubnetLeases(store, dual);
      await leases.acquire(request(1));
      const previous = { subnet: "10.244.7.0/24", subnet6: "fd00:10:244:9::/64", source: "subnet.json" };
      const held = await leases.acquire(request(2), previous);
      assert.deepEqual([held.lease.subnet, held.lease.subnet6], ["10.244.7.0/24", "fd00:10:244:9::/64"]);
    } finally {
      await store.close();
    }
  });

  test("a previous IPv6 subnet another node holds now is refused, and nothing is written", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = new SubnetLeases(store, dual);
      const first = await leases.acquire(request(1));
      const before = (await store.list("/strata/subnets/")).items.length;
      const previous = { subnet: "10.244.7.0/24", subnet6: first.lease.subnet6, source: "subnet.json" };
      await assert.rejects(leases.acquire(request(2), previous), (e: unknown) => {
        assert.ok(e instanceof SubnetTakenError);
        assert.match(e.message, /IPv6 subnet fd00:10:244:1::\/64 .* now belongs to node n1/);
        return true;
      });
      assert.equal((await store.list("/strata/subnets/")).items.length, before);
    } finally {
      await store.close();
    }
  });

  test("an older agent's lease without subnet6 gets one when it restarts dual-stack, keeping its IPv4 subnet", async () => {
    const store = new EmbeddedStore();
    try {
      const old = await new SubnetLeases(store, v4only).acquire(request(1, { publicIp6: undefined }));
      assert.equal(old.lease.subnet6, undefined);
      const now = await new SubnetLeases(store, dual).acquire(request(1));
      assert.deepEqual([now.lease.subnet, now.lease.subnet6], [old.lease.subnet, "fd00:10:244:1::/64"]);
    } finally {
      await store.close();
    }
  });

  test("a fresh subnet6 that another lease names (even an invalid one) is skipped", async () => {
    const store = new EmbeddedStore();
    try {
      await store.put(
        subnetKey("10.244.200.0/24"),
        JSON.stringify({ node: "bad", subnet: "10.244.200.0/24", subnet6: "fd00:10:244:1::/64" }),
      );
      const held = await new SubnetLeases(store, dual).acquire(request(1));
      assert.equal(held.lease.subnet6, "fd00:10:244:2::/64");
    } finally {
      await store.close();
    }
  });

  test("two nodes leasing at once end with different IPv6 subnets", async () => {
    const store = new EmbeddedStore();
    try {
      const leases = Array.from({ length: 6 }, () => new SubnetLeases(store, dual));
      const held = await Promise.all(leases.map((l, i) => l.acquire(request(i + 1))));
      const six = held.map((h) => h.lease.subnet6);
      assert.equal(new Set(six).size, 6, six.join(" "));
      const snap = await leases[0]?.snapshot();
      assert.equal(snap?.leases.length, 6);
      assert.deepEqual(snap?.rejected, []);
    } finally {
      await store.close();
    }
  });
});

test("a node that loses a fresh IPv6 subnet to an older lease written meanwhile takes the next free one", async () => {
  const store = new EmbeddedStore();
  try {
    // Another node's lease naming the same subnet6 lands between our pick and our write: it is
    // older (lower createRevision), so it keeps the IPv6 subnet and ours must move.
    let raced = false;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "create")
          return async (key: string, value: string, opts?: { lease?: string }) => {
            const mine = JSON.parse(value) as NodeLease;
            if (!raced && mine.node === "n1") {
              raced = true;
              await target.put(
                subnetKey("10.244.99.0/24"),
                JSON.stringify(lease(99, { subnet6: mine.subnet6 })),
              );
            }
            return target.create(key, value, opts);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const held = await new SubnetLeases(racing, dual, () => 0).acquire(request(1));
    assert.ok(raced);
    assert.equal(held.lease.subnet6, "fd00:10:244:2::/64");
    const snap = await new SubnetLeases(store, dual).snapshot();
    assert.deepEqual(snap.leases.map((l) => [l.node, l.subnet6]).sort(), [
      ["n1", "fd00:10:244:2::/64"],
      ["n99", "fd00:10:244:1::/64"],
    ]);
    assert.deepEqual(snap.rejected, []);
  } finally {
    await store.close();
  }
});

test("an old lease upgraded to dual stack does not take the IPv6 subnet a new node named between its read and its write", async () => {
  const store = new EmbeddedStore();
  try {
    // n1's lease predates dual stack (created first: it is the older one and wins conflicts).
    const old = await new SubnetLeases(store, v4only).acquire(request(1, { publicIp6: undefined }));
    assert.equal(old.lease.subnet6, undefined);
    // While n1 upgrades, new node n2 leases the same fresh IPv6 subnet (and may give pods
    // addresses from it) after n1 read the leases and before n1's write lands.
    let raced = false;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "update")
          return async (key: string, value: string, expected: number, opts?: { lease?: string }) => {
            const mine = JSON.parse(value) as NodeLease;
            if (!raced && mine.node === "n1" && mine.subnet6) {
              raced = true;
              await target.put(
                subnetKey("10.244.2.0/24"),
                JSON.stringify(lease(2, { subnet6: mine.subnet6 })),
              );
            }
            return target.update(key, value, expected, opts);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const upgraded = await new SubnetLeases(racing, dual, () => 0).acquire(request(1));
    assert.ok(raced);
    assert.equal(upgraded.lease.subnet, old.lease.subnet, "keeps its IPv4 subnet");
    assert.equal(upgraded.lease.subnet6, "fd00:10:244:2::/64", "moves off the subnet n2 named first");
    const snap = await new SubnetLeases(store, dual).snapshot();
    assert.deepEqual(snap.leases.map((l) => [l.node, l.subnet6]).sort(), [
      ["n1", "fd00:10:244:2::/64"],
      ["n2", "fd00:10:244:1::/64"],
    ]);
    assert.deepEqual(snap.rejected, []);
  } finally {
    await store.close();
  }
});

test("24 dual-stack nodes acquiring at once get 24 distinct subnets of each family, and every lease is valid", async () => {
  const store = new EmbeddedStore();
  try {
    const held = await Promise.all(
      Array.from({ length: 24 }, (_, i) => new SubnetLeases(store, dual).acquire(request(i + 1))),
    );
    assert.equal(new Set(held.map((h) => h.lease.subnet)).size, 24);
    assert.equal(new Set(held.map((h) => h.lease.subnet6)).size, 24, "every node its own IPv6 subnet");
    const snap = await new SubnetLeases(store, dual).snapshot();
    assert.equal(snap.leases.length, 24);
    assert.deepEqual(snap.rejected, [], "no lease lost its IPv6 subnet to another");
  } finally {
    await store.close();
  }
});
