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
