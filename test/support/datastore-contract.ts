import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually } from "../../src/common/eventually.js";
import type { Datastore, WatchEvent } from "../../src/datastore/api.js";

/** One conformance suite, run against every Datastore implementation. */
export interface ContractTarget {
  readonly name: string;
  readonly store: () => Datastore;
  /** Restart the server side; the same store object must keep working afterwards. */
  readonly restart: () => Promise<void>;
  /** Shortest lease TTL the implementation honours, seconds. */
  readonly minTtl: number;
}

async function collect(it: AsyncIterable<WatchEvent>, n: number, ms = 8000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const deadline = Date.now() + ms;
  for await (const e of it) {
    out.push(e);
    if (out.length >= n || Date.now() > deadline) break;
  }
  return out;
}

export function datastoreContract(t: ContractTarget): void {
  const p = `/contract/${t.name}/${Date.now()}`;

  test(`${t.name}: put, get, list by prefix; revisions increase`, async () => {
    const s = t.store();
    const r1 = await s.put(`${p}/a/1`, "x");
    const r2 = await s.put(`${p}/a/2`, "y");
    await s.put(`${p}/b/1`, "z");
    assert.ok(r2 > r1);
    assert.equal((await s.get(`${p}/a/1`))?.value, "x");
    const l = await s.list(`${p}/a/`);
    assert.deepEqual(
      l.items.map((i) => i.key),
      [`${p}/a/1`, `${p}/a/2`],
    );
    assert.ok(l.revision >= r2);
    assert.equal(await s.get(`${p}/none`), undefined);
  });

  test(`${t.name}: of concurrent creators exactly one wins`, async () => {
    const s = t.store();
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => s.create(`${p}/race`, `w${i}`)));
    assert.equal(wins.filter(Boolean).length, 1);
  });

  test(`${t.name}: compare-and-swap update and delete detect conflicts`, async () => {
    const s = t.store();
    await s.put(`${p}/cas`, "1");
    const kv = await s.get(`${p}/cas`);
    assert.ok(kv);
    assert.equal(await s.update(`${p}/cas`, "2", kv.modRevision), true);
    assert.equal(await s.update(`${p}/cas`, "3", kv.modRevision), false, "stale revision loses");
    const now = await s.get(`${p}/cas`);
    assert.equal(now?.value, "2");
    assert.equal(await s.deleteIf(`${p}/cas`, kv.modRevision), false);
    assert.equal(await s.deleteIf(`${p}/cas`, now?.modRevision ?? 0), true);
    assert.equal(await s.delete(`${p}/cas`), false);
  });

  test(`${t.name}: createRevision orders keys by age and survives updates; a re-created key is younger`, async () => {
    const s = t.store();
    await s.put(`${p}/age/old`, "1");
    await s.put(`${p}/age/young`, "1");
    const old = await s.get(`${p}/age/old`);
    const young = await s.get(`${p}/age/young`);
    assert.ok(old && young);
    assert.ok(old.createRevision < young.createRevision, "the older key has the lower createRevision");
    assert.equal(old.createRevision, old.modRevision);
    await s.put(`${p}/age/old`, "2");
    const updated = await s.get(`${p}/age/old`);
    assert.equal(updated?.createRevision, old.createRevision, "an update keeps the creation revision");
    assert.ok((updated?.modRevision ?? 0) > old.modRevision);
    const listed = (await s.list(`${p}/age/`)).items.find((kv) => kv.key === `${p}/age/old`);
    assert.equal(listed?.createRevision, old.createRevision, "list carries it too");
    await s.delete(`${p}/age/old`);
    await s.put(`${p}/age/old`, "3");
    const again = await s.get(`${p}/age/old`);
    assert.ok((again?.createRevision ?? 0) > young.createRevision, "re-created after young: now younger");
  });

  test(`${t.name}: watch from a past revision replays in order, then follows live changes`, async () => {
    const s = t.store();
    const start = (await s.list(`${p}/w/`)).revision;
    await s.put(`${p}/w/1`, "a");
    await s.put(`${p}/w/2`, "b");
    await s.delete(`${p}/w/1`);
    await s.put(`${p}/other`, "not mine");
    const ac = new AbortController();
    const it = s.watch(`${p}/w/`, start, ac.signal);
    setTimeout(() => void s.put(`${p}/w/3`, "c"), 200);
    const events = await collect(it, 4);
    ac.abort();
    assert.deepEqual(
      events.map(
        (e) =>
          `${e.type}:${e.type === "put" ? e.kv.key.slice(-3) : e.type === "delete" ? e.key.slice(-3) : ""}`,
      ),
      ["put:w/1", "put:w/2", "delete:w/1", "put:w/3"],
    );
  });

  test(`${t.name}: keys on a lease vanish when it expires, and watchers see the delete`, async () => {
    const s = t.store();
    const lease = await s.grantLease(t.minTtl);
    await s.put(`${p}/l/node`, "alive", { lease });
    const rev = (await s.list(`${p}/l/`)).revision;
    assert.equal(await s.keepAlive(lease), true);
    const ac = new AbortController();
    const events = collect(s.watch(`${p}/l/`, rev, ac.signal), 1, (t.minTtl + 8) * 1000);
    await eventually(async () => (await s.get(`${p}/l/node`)) === undefined, "leased key removed", {
      timeoutMs: (t.minTtl + 8) * 1000,
    });
    const seen = await events;
    ac.abort();
    assert.equal(seen[0]?.type, "delete");
    assert.equal(await s.keepAlive(lease), false, "an expired lease cannot be renewed");
  });

  test(`${t.name}: data and revisions survive a server restart`, async () => {
    const s = t.store();
    const rev = await s.put(`${p}/durable`, "kept");
    await t.restart();
    // Reads fail while the client reconnects; eventually() treats that as "not yet".
    await eventually(
      async () => (await s.get(`${p}/durable`))?.value === "kept",
      "value readable after restart",
    );
    assert.ok((await s.put(`${p}/after`, "x")) > rev, "revisions keep increasing");
  });
}
