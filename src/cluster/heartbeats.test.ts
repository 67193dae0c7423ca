import assert from "node:assert/strict";
import { test } from "node:test";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { aliveNodes, heartbeatKey, heartbeatPrefix, NodeHeartbeat } from "./heartbeats.js";

test("a heartbeat makes its node alive, vanishes with its short TTL, is written anew on the next beat, and goes at stop", async () => {
  let now = 5_000_000;
  const store = new EmbeddedStore({ now: () => now, sweepMs: 3_600_000 });
  try {
    const n1 = new NodeHeartbeat(store, "n1", 10);
    const n2 = new NodeHeartbeat(store, "n2", 10);
    await n1.beat();
    await n2.beat();
    assert.deepEqual([...(await aliveNodes(store))].sort(), ["n1", "n2"]);
    now += 6_000;
    await n1.beat(); // renewed; n2 is not
    now += 6_000;
    store.sweepExpired();
    assert.deepEqual([...(await aliveNodes(store))], ["n1"], "n2's heartbeat expired");
    now += 20_000;
    store.sweepExpired();
    assert.equal(await store.get(heartbeatKey("n1")), undefined);
    await n1.beat(); // its lease expired while the agent was paused: a new one
    assert.deepEqual([...(await aliveNodes(store))], ["n1"]);
    await n1.stop();
    assert.deepEqual([...(await aliveNodes(store))], []);
  } finally {
    await store.close();
  }
});

test("keys under the heartbeat prefix that are not node names are ignored", async () => {
  const store = new EmbeddedStore();
  try {
    await store.put(`${heartbeatPrefix}Not_A_Node`, "{}");
    await store.put(`${heartbeatPrefix}n1/../x`, "{}");
    await store.put(heartbeatKey("n7"), "{}");
    assert.deepEqual([...(await aliveNodes(store))], ["n7"]);
  } finally {
    await store.close();
  }
});
