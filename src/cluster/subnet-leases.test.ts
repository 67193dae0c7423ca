import assert from "node:assert/strict";
import { test } from "node:test";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { subnetKey } from "./lease-validation.js";
import { type LeaseRequest, SubnetLeases } from "./subnet-leases.js";

const policy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };
const request = (node: string, i: number): LeaseRequest => ({
  node,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  backend: "host-gw",
  backendData: {},
  ttlSeconds: 30,
});

test("acquire skips a subnet whose key holds garbage, ignores a forged /16, and never adopts a malformed lease with its name", async () => {
  const store = new EmbeddedStore();
  try {
    // Garbage at the first free subnet's key: create() there would lose forever.
    await store.put(subnetKey("10.244.1.0/24"), "garbage");
    // A forged /16 claiming the whole cluster: every node rejects it, so it must not starve anyone.
    await store.put(
      subnetKey("10.244.0.0/16"),
      JSON.stringify({
        node: "evil",
        subnet: "10.244.0.0/16",
        publicIp: "192.168.10.99",
        publicPrefix: 24,
        backend: "host-gw",
        backendData: {},
      }),
    );
    // A lease with n1's name but a bad publicIp: not n1's to take over.
    await store.put(
      subnetKey("10.244.5.0/24"),
      JSON.stringify({ node: "n1", subnet: "10.244.5.0/24", publicIp: "0.0.0.0", publicPrefix: 24 }),
    );
    const leases = new SubnetLeases(store, policy);
    const held = await leases.acquire(request("n1", 1));
    assert.equal(held.lease.subnet, "10.244.2.0/24");
    const snap = await leases.snapshot();
    assert.deepEqual(
      snap.leases.map((l) => [l.node, l.subnet]),
      [["n1", "10.244.2.0/24"]],
    );
    assert.deepEqual(snap.rejected.map((r) => r.reason).sort(), [
      "malformed",
      "malformed",
      "wrong-prefix-length",
    ]);
    // A restart finds the valid lease with its name and keeps the subnet.
    const again = await leases.acquire(request("n1", 1));
    assert.equal(again.lease.subnet, "10.244.2.0/24");
  } finally {
    await store.close();
  }
});

test("watch yields the validated set: a forged lease appears only among the rejected", async () => {
  const store = new EmbeddedStore();
  const ac = new AbortController();
  try {
    const leases = new SubnetLeases(store, policy);
    await leases.acquire(request("n1", 1));
    const views = leases.watch(ac.signal)[Symbol.asyncIterator]();
    const first = (await views.next()).value;
    assert.equal(first?.leases.length, 1);
    await store.put(
      subnetKey("203.0.113.0/24"),
      JSON.stringify({
        node: "n9",
        subnet: "203.0.113.0/24",
        publicIp: "192.168.10.99",
        publicPrefix: 24,
        backend: "host-gw",
        backendData: {},
      }),
    );
    const next = (await views.next()).value;
    assert.deepEqual(
      next?.leases.map((l: { node: string }) => l.node),
      ["n1"],
    );
    assert.equal(next?.rejected[0]?.reason, "outside-cluster-cidr");
  } finally {
    ac.abort();
    await store.close();
  }
});

const listing = async (store: EmbeddedStore) => JSON.stringify(await store.list("/strata/"));

test("a restart takes back the subnet its state directory names when the datastore no longer has it", async () => {
  const store = new EmbeddedStore();
  try {
    const leases = new SubnetLeases(store, policy);
    await leases.acquire(request("n2", 2)); // 10.244.1.0/24 is taken: the lowest free is .2
    const held = await leases.acquire(request("n1", 1), {
      subnet: "10.244.7.0/24",
      source: "/state/subnet.json",
    });
    assert.equal(held.lease.subnet, "10.244.7.0/24", "its old subnet, not the lowest free one");
    // With its lease in the datastore, the datastore's lease is the one taken back.
    const again = await leases.acquire(request("n1", 1), {
      subnet: "10.244.7.0/24",
      source: "/state/subnet.json",
    });
    assert.equal(again.lease.subnet, "10.244.7.0/24");
  } finally {
    await store.close();
  }
});

test("a restart whose subnet now belongs to another node is refused with one line naming subnet and owner; nothing is written", async () => {
  const store = new EmbeddedStore();
  try {
    const leases = new SubnetLeases(store, policy);
    const n4 = await leases.acquire(request("n4", 4));
    const before = await listing(store);
    await assert.rejects(
      leases.acquire(request("n3", 3), { subnet: n4.lease.subnet, source: "/state/n3/subnet.json" }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "cluster.subnet-taken");
        assert.match(
          err.message,
          /^subnet 10\.244\.1\.0\/24 .*\/state\/n3\/subnet\.json.* now belongs to node n4/,
        );
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
    assert.equal(await listing(store), before, "the datastore is unchanged");
    // A subnet outside the cluster CIDR (the state directory of another cluster) is refused too.
    await assert.rejects(
      leases.acquire(request("n3", 3), { subnet: "10.99.1.0/24", source: "/state/n3/subnet.json" }),
      /10\.99\.1\.0\/24 .*cannot be leased here: .*not inside the cluster CIDR/,
    );
    // The datastore leases n4 a subnet, but its state directory names another: refused, not renumbered.
    await assert.rejects(
      leases.acquire(request("n4", 4), { subnet: "10.244.9.0/24", source: "/state/n4/subnet.json" }),
      /leases 10\.244\.1\.0\/24 to node n4, but \/state\/n4\/subnet\.json says this node had 10\.244\.9\.0\/24/,
    );
    assert.equal(await listing(store), before, "still unchanged");
  } finally {
    await store.close();
  }
});

test("renewal after the lease expired takes the same subnet back, and never another one", async () => {
  let now = 1_000_000;
  const store = new EmbeddedStore({ now: () => now, sweepMs: 3_600_000 });
  try {
    const leases = new SubnetLeases(store, policy);
    const held = await leases.acquire(request("n1", 1));
    now += 31_000; // past the 30 s TTL: the key goes with the lease
    store.sweepExpired();
    assert.equal((await leases.snapshot()).leases.length, 0);
    const renewed = await leases.renew(held, request("n1", 1));
    assert.equal(renewed.lease.subnet, held.lease.subnet);
    assert.notEqual(renewed.leaseId, held.leaseId);
    // Expired again, and meanwhile another node took the subnet: renewal refuses.
    now += 31_000;
    store.sweepExpired();
    const thief = await leases.acquire(request("n9", 9));
    assert.equal(thief.lease.subnet, held.lease.subnet);
    await assert.rejects(leases.renew(renewed, request("n1", 1)), /now belongs to node n9/);
  } finally {
    await store.close();
  }
});

test("removeNode deletes every key naming the node (valid or not) and nothing else", async () => {
  const store = new EmbeddedStore();
  try {
    const leases = new SubnetLeases(store, policy);
    const n1 = await leases.acquire(request("n1", 1));
    const n2 = await leases.acquire(request("n2", 2));
    await store.put(subnetKey("10.244.50.0/24"), JSON.stringify({ node: "n1", subnet: "bad" }));
    await store.put(subnetKey("10.244.51.0/24"), "garbage");
    const removed = await leases.removeNode("n1");
    assert.deepEqual(removed.sort(), [subnetKey(n1.lease.subnet), subnetKey("10.244.50.0/24")].sort());
    const left = (await store.list("/strata/subnets/")).items.map((kv) => kv.key).sort();
    assert.deepEqual(left, [subnetKey(n2.lease.subnet), subnetKey("10.244.51.0/24")].sort());
    assert.deepEqual(await leases.removeNode("n1"), []);
  } finally {
    await store.close();
  }
});

test("republish rewrites the node's own lease with new backend data under the same datastore lease; a lease that is gone or another node's is refused", async () => {
  const store = new EmbeddedStore();
  try {
    const leases = new SubnetLeases(store, policy);
    const held = await leases.acquire({ ...request("n1", 1), backendData: { wgPublicKey: "old" } });
    const again = await leases.republish(held, { ...request("n1", 1), backendData: { wgPublicKey: "new" } });
    assert.equal(again.leaseId, held.leaseId);
    assert.equal(again.lease.subnet, held.lease.subnet);
    const kv = await store.get(subnetKey(held.lease.subnet));
    assert.deepEqual(JSON.parse(kv?.value ?? "{}").backendData, { wgPublicKey: "new" });
    assert.equal(kv?.lease, held.leaseId);
    // Another node took the key (n1's lease expired, say): nothing is written over it.
    await store.put(subnetKey(held.lease.subnet), JSON.stringify({ ...again.lease, node: "n2" }));
    await assert.rejects(leases.republish(again, request("n1", 1)), /no longer names n1/);
    assert.equal(JSON.parse((await store.get(subnetKey(held.lease.subnet)))?.value ?? "{}").node, "n2");
    await store.delete(subnetKey(held.lease.subnet));
    await assert.rejects(leases.republish(again, request("n1", 1)), /is gone/);
  } finally {
    await store.close();
  }
});

test("40 nodes acquiring at once all get distinct subnets (a node that lost a race picks among the free ones at random)", async () => {
  const store = new EmbeddedStore();
  try {
    const nodes = Array.from({ length: 40 }, (_, i) => `n${i + 1}`);
    const held = await Promise.all(
      nodes.map((node, i) => new SubnetLeases(store, policy).acquire(request(node, i + 1))),
    );
    const subnets = held.map((h) => h.lease.subnet);
    assert.equal(new Set(subnets).size, 40, "every node its own subnet");
    assert.deepEqual(
      held.map((h) => h.lease.node),
      nodes,
    );
    const { items } = await store.list("/strata/subnets/");
    assert.equal(items.length, 40, "one key per node, nothing else written");
  } finally {
    await store.close();
  }
});
