import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PathAttributes, UpdateMessage } from "../codec/types.js";
import { AdjRibOut } from "./adj-rib-out.js";
import { attributesKey } from "./attribute-sets.js";
import type { PeerInfo } from "./path.js";
import type { LocalSpeaker } from "./reflection.js";
import { type BestChange, Rib } from "./rib.js";

const peer = (n: number, o: Partial<PeerInfo> = {}): PeerInfo => ({
  id: `192.168.0.${n}`,
  routerId: `10.0.0.${n}`,
  address: `192.168.0.${n}`,
  asn: 65000,
  ibgp: true,
  rrClient: true,
  ...o,
});
/** Fresh objects every call: equal attribute sets that arrived in different UPDATEs. */
const attrs = (n: number, extra: Partial<PathAttributes> = {}): PathAttributes => ({
  origin: "igp",
  asPath: [],
  nextHop: `192.168.0.${n}`,
  localPref: 100,
  ...extra,
});
const announce = (nlri: string[], attributes: PathAttributes): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes,
  nlri,
});
const withdrawal = (withdrawn: string[]): UpdateMessage => ({
  type: "update",
  withdrawn,
  attributes: {},
  nlri: [],
});
const prefix = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;

/** A Loc-RIB feeding an Adj-RIB-Out, as the speaker wires them. */
function reflector(local: LocalSpeaker = { asn: 65000, routerId: "10.0.0.100", clusterId: "10.0.0.100" }) {
  const rib = new Rib(local);
  const out = new AdjRibOut(local);
  const mark = (changes: BestChange[]) => {
    for (const c of changes) out.mark(c.prefix, c.kind === "best" ? c.path : undefined);
  };
  return { rib, out, receive: (from: PeerInfo, u: UpdateMessage) => mark(rib.receive(from, u)) };
}

describe("Adj-RIB-Out grouped by attribute set", () => {
  const [p1, p2, p3] = [peer(1), peer(2), peer(3)];

  test("prefixes that arrived in 1-prefix UPDATEs leave in one group, whatever objects their attributes came in", () => {
    const { out, receive } = reflector();
    for (let i = 0; i < 300; i++) receive(p1, announce([prefix(i)], attrs(1)));
    const batch = out.drain([p1, p2, p3]);
    assert.equal(batch.groups.length, 1);
    assert.deepEqual(
      batch.groups[0]?.prefixes,
      Array.from({ length: 300 }, (_, i) => prefix(i)),
    );
    assert.equal(out.groupsFor(p2, batch.groups).length, 1);
    assert.equal(out.groupsFor(p1, batch.groups).length, 0, "never reflected back to its originator");
  });

  test("the learned routes share one frozen attribute object per distinct set", () => {
    const { rib, receive } = reflector();
    for (let i = 0; i < 50; i++) receive(p1, announce([prefix(i)], attrs(1)));
    for (let i = 50; i < 100; i++) receive(p2, announce([prefix(i)], attrs(2)));
    const objects = new Set([...rib.bestPaths()].map(([, p]) => p.attributes));
    assert.equal(objects.size, 2);
    for (const a of objects) assert.ok(Object.isFrozen(a));
    assert.equal(rib.attributeSets, 2);
  });

  test("attribute order does not make two sets; a different MED does", () => {
    const a = attrs(1, { med: 5 });
    const reordered: PathAttributes = {
      med: 5,
      localPref: 100,
      nextHop: "192.168.0.1",
      asPath: [],
      origin: "igp",
    };
    assert.equal(attributesKey(a), attributesKey(reordered));
    assert.notEqual(attributesKey(a), attributesKey(attrs(1, { med: 6 })));
  });

  test("a changed attribute set moves a prefix between groups: it leaves once, with its latest attributes", () => {
    const { out, receive } = reflector();
    receive(p1, announce([prefix(1), prefix(2), prefix(3)], attrs(1, { med: 10 })));
    receive(p1, announce([prefix(2)], attrs(1, { med: 20 })));
    const first = out.drain([p2]);
    const byMed = new Map(first.groups.map((g) => [g.path.attributes.med, g.prefixes]));
    assert.deepEqual(byMed.get(10), [prefix(1), prefix(3)]);
    assert.deepEqual(byMed.get(20), [prefix(2)]);
    // After a drain, a change moves just that prefix: the other group is not sent again.
    receive(p1, announce([prefix(3)], attrs(1, { med: 20 })));
    const second = out.drain([p2]);
    assert.deepEqual(
      second.groups.map((g) => [g.path.attributes.med, g.prefixes]),
      [[20, [prefix(3)]]],
    );
    assert.equal(second.withdraw.size, 0, "a replaced route is announced again, not withdrawn");
  });

  test("withdrawals go to every peer that had the route, all in one batch, and none to its originator", () => {
    const { out, receive } = reflector();
    receive(p1, announce([prefix(1), prefix(2), prefix(3)], attrs(1)));
    out.drain([p1, p2, p3]);
    for (const i of [1, 2, 3]) receive(p1, withdrawal([prefix(i)]));
    const batch = out.drain([p1, p2, p3]);
    assert.equal(batch.groups.length, 0);
    assert.deepEqual(batch.withdraw.get(p2.id), [prefix(1), prefix(2), prefix(3)]);
    assert.deepEqual(batch.withdraw.get(p3.id), [prefix(1), prefix(2), prefix(3)]);
    assert.equal(batch.withdraw.has(p1.id), false);
    assert.equal(out.size, 0);
  });

  test("a drain without per-prefix changes sends the same groups and withdrawals and remembers as much", () => {
    const listed = reflector();
    const bare = reflector();
    for (const r of [listed, bare]) {
      r.receive(p1, announce([prefix(1), prefix(2)], attrs(1)));
      r.receive(p2, announce([prefix(3)], attrs(2)));
    }
    const a = listed.out.drain([p1, p2, p3]);
    const b = bare.out.drain([p1, p2, p3], { changes: false });
    assert.equal(a.changes.length, 3);
    assert.equal(b.changes.length, 0, "nobody follows the changes: none listed");
    assert.deepEqual(
      b.groups.map((g) => g.prefixes),
      a.groups.map((g) => g.prefixes),
    );
    assert.equal(bare.out.size, 3);
    for (const r of [listed, bare]) r.receive(p1, withdrawal([prefix(1)]));
    assert.deepEqual(
      bare.out.drain([p1, p2, p3], { changes: false }).withdraw,
      listed.out.drain([p1, p2, p3]).withdraw,
    );
  });

  test("a route announced and withdrawn between two drains is never sent", () => {
    const { out, receive } = reflector();
    receive(p1, announce([prefix(1)], attrs(1)));
    receive(p1, withdrawal([prefix(1)]));
    const batch = out.drain([p2]);
    assert.equal(batch.groups.length, 0);
    assert.equal(batch.withdraw.size, 0);
  });

  test("a better path from another client: the new originator gets a withdrawal of the old one, the others the new path", () => {
    const { out, receive } = reflector();
    receive(p1, announce([prefix(1)], attrs(1)));
    out.drain([p1, p2, p3]);
    receive(p3, announce([prefix(1)], attrs(3, { localPref: 200 })));
    const batch = out.drain([p1, p2, p3]);
    assert.deepEqual(batch.withdraw.get(p3.id), [prefix(1)], "p3 may not get its own route back");
    assert.equal(batch.withdraw.has(p1.id), false);
    assert.equal(batch.withdraw.has(p2.id), false);
    assert.equal(out.groupsFor(p1, batch.groups).length, 1);
    assert.equal(out.groupsFor(p2, batch.groups).length, 1);
    assert.equal(out.groupsFor(p3, batch.groups).length, 0);
  });

  test("without a cluster id an iBGP-learned route goes to eBGP peers only (RFC 4271 §9.2)", () => {
    const { out, receive } = reflector({ asn: 65000, routerId: "10.0.0.100" });
    const ebgp = peer(9, { asn: 65009, ibgp: false, rrClient: false });
    const ibgp = peer(2, { rrClient: false });
    receive(peer(1, { rrClient: false }), announce([prefix(1)], attrs(1)));
    const batch = out.drain([ibgp, ebgp]);
    assert.equal(out.groupsFor(ibgp, batch.groups).length, 0);
    assert.equal(out.groupsFor(ebgp, batch.groups).length, 1);
  });

  test("a speaker that does not reflect: every iBGP peer's table is ours and the eBGP-learned, and its version moves only with those", () => {
    const local = { asn: 65000, routerId: "10.0.0.100" };
    const rib = new Rib(local);
    const out = new AdjRibOut(local);
    const mark = (changes: BestChange[]) => {
      for (const c of changes) out.mark(c.prefix, c.kind === "best" ? c.path : undefined);
    };
    const ebgp = peer(9, { asn: 65009, ibgp: false, rrClient: false });
    const [i1, i2] = [peer(1, { rrClient: false }), peer(2, { rrClient: false })];
    mark(rib.originate(prefix(100), attrs(100)));
    out.drain([]);
    const v0 = out.tableVersion;
    // iBGP-learned routes come and go: the iBGP peers' table does not change.
    for (let i = 0; i < 5; i++) mark(rib.receive(i1, announce([prefix(i)], attrs(1))));
    out.drain([i1, i2, ebgp]);
    assert.equal(out.tableVersion, v0);
    assert.equal(out.sameForEveryIbgpPeer(i2), true);
    assert.equal(out.sameForEveryIbgpPeer(ebgp), false);
    const prefixesOf = (p: PeerInfo) =>
      out
        .table(p)
        .flatMap((g) => g.prefixes)
        .sort();
    assert.deepEqual(prefixesOf(i2), [prefix(100)]);
    assert.deepEqual(prefixesOf(ebgp).length, 6, "an eBGP peer gets every best path");
    // An eBGP-learned route: every iBGP peer's table grows, the version moves.
    mark(
      rib.receive(ebgp, announce([prefix(50)], attrs(9, { asPath: [{ type: "sequence", asns: [65009] }] }))),
    );
    out.drain([i1, i2, ebgp]);
    assert.notEqual(out.tableVersion, v0);
    assert.deepEqual(prefixesOf(i1), [prefix(100), prefix(50)].sort());
    // It goes: so does it from the table.
    const v1 = out.tableVersion;
    mark(rib.receive(ebgp, withdrawal([prefix(50)])));
    out.drain([i1, i2, ebgp]);
    assert.notEqual(out.tableVersion, v1);
    assert.deepEqual(prefixesOf(i1), [prefix(100)]);
  });

  test("the table for a new session is grouped by attribute set too", () => {
    const { out, receive } = reflector();
    for (let i = 0; i < 20; i++) receive(p1, announce([prefix(i)], attrs(1)));
    for (let i = 20; i < 30; i++) receive(p2, announce([prefix(i)], attrs(2)));
    out.drain([]);
    assert.deepEqual(
      out.table(p3).map((g) => g.prefixes.length),
      [20, 10],
    );
    assert.deepEqual(
      out.table(p1).map((g) => g.path.from?.id),
      [p2.id],
    );
  });
});
