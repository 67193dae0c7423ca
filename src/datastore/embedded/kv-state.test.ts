import assert from "node:assert/strict";
import { test } from "node:test";
import type { WatchEvent } from "../api.js";
import { EmbeddedStore } from "./embedded-store.js";

test("a watcher that asks for compacted history gets a resync snapshot, then live events", async () => {
  const s = new EmbeddedStore({ historyLimit: 3 });
  for (let i = 0; i < 6; i++) await s.put(`/k/${i}`, String(i));
  const ac = new AbortController();
  const events: WatchEvent[] = [];
  const it = s.watch("/k/", 0, ac.signal);
  setTimeout(() => void s.put("/k/new", "n"), 20);
  for await (const e of it) {
    events.push(e);
    if (events.length === 2) break;
  }
  ac.abort();
  await s.close();
  assert.equal(events[0]?.type, "resync");
  if (events[0]?.type === "resync") assert.equal(events[0].items.length, 6);
  assert.equal(events[1]?.type, "put");
});

test("a lease's keys go when the lease expires (injected clock, no waiting)", async () => {
  let now = 1_000;
  const s = new EmbeddedStore({ now: () => now, sweepMs: 1_000_000 });
  const lease = await s.grantLease(10);
  await s.put("/n/1", "x", { lease });
  now += 9_000;
  s.sweepExpired();
  assert.equal((await s.get("/n/1"))?.value, "x");
  assert.equal(await s.keepAlive(lease), true);
  now += 10_001;
  s.sweepExpired();
  assert.equal(await s.get("/n/1"), undefined);
  await s.close();
});
