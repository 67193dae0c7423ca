import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UpdateMessage } from "../codec/types.js";
import { type ImportPolicy, prefixListVerdict } from "./import-policy.js";
import type { PeerInfo } from "./path.js";
import { parsePrefixRange } from "./prefix-list.js";
import { Rib } from "./rib.js";

const peer = (id: string): PeerInfo => ({
  id,
  routerId: `10.0.0.${id}`,
  address: `192.168.0.${id}`,
  asn: 64512,
  ibgp: true,
  rrClient: false,
});
const announce = (nlri: string[], nextHop = "192.168.0.1"): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop },
  nlri,
});
const withdraw = (withdrawn: string[]): UpdateMessage => ({
  type: "update",
  withdrawn,
  attributes: {},
  nlri: [],
});
const local = { asn: 64512, routerId: "10.0.0.99" };

describe("import policy (RFC 4271 §9.1: Adj-RIB-In → Loc-RIB)", () => {
  test("a peer's list: only what it allows; a default route only when listed exactly", () => {
    const list = [parsePrefixRange("10.50.0.0/16le24")];
    assert.equal(prefixListVerdict(list, "10.50.3.0/24"), undefined);
    assert.match(
      prefixListVerdict(list, "10.60.0.0/24") ?? "",
      /not in the peer's import list \(10\.50\.0\.0\/16le24\)/,
    );
    assert.match(prefixListVerdict(list, "0.0.0.0/0") ?? "", /default route/);
    assert.match(
      prefixListVerdict(undefined, "0.0.0.0/0") ?? "",
      /default route/,
      "no list: still no default",
    );
    assert.match(prefixListVerdict([parsePrefixRange("0.0.0.0/0le32")], "0.0.0.0/0") ?? "", /default/);
    assert.equal(prefixListVerdict([parsePrefixRange("0.0.0.0/0")], "0.0.0.0/0"), undefined, "named exactly");
    assert.equal(prefixListVerdict(undefined, "203.0.113.0/24"), undefined, "no list: others pass here");
  });

  test("refused routes never reach the Loc-RIB, are counted per peer, and leave on withdrawal", () => {
    const rib = new Rib(local);
    const onlyOwn: ImportPolicy = (from, prefix) =>
      prefix === `10.244.${from.id}.0/24` ? undefined : `not node ${from.id}'s subnet`;
    rib.setImportPolicy(onlyOwn);
    const changes = rib.receive(peer("1"), announce(["10.244.1.0/24", "0.0.0.0/1", "10.244.2.0/25"]));
    assert.deepEqual(
      changes.map((c) => c.prefix),
      ["10.244.1.0/24"],
      "only the accepted prefix changes the Loc-RIB",
    );
    assert.deepEqual(
      rib.refusedByLastReceive.map((r) => r.prefix),
      ["0.0.0.0/1", "10.244.2.0/25"],
    );
    assert.equal(rib.best("0.0.0.0/1"), undefined);
    assert.equal(rib.prefixCount("1"), 1);
    assert.equal(rib.rejected("1").size, 2);
    assert.equal(rib.rejected("1").get("0.0.0.0/1")?.reason, "not node 1's subnet");
    rib.receive(peer("1"), withdraw(["0.0.0.0/1"]));
    assert.equal(rib.rejected("1").size, 1);
    rib.dropPeer("1");
    assert.equal(rib.rejected("1").size, 0);
    assert.equal(rib.size, 0);
  });

  test("an accepted prefix announced again with refused content leaves the Loc-RIB", () => {
    const rib = new Rib(local);
    rib.setImportPolicy((_f, _p, a) => (a.nextHop === "192.168.0.1" ? undefined : "wrong next hop"));
    rib.receive(peer("1"), announce(["10.244.1.0/24"]));
    assert.ok(rib.best("10.244.1.0/24"));
    const changes = rib.receive(peer("1"), announce(["10.244.1.0/24"], "192.168.0.66"));
    assert.deepEqual(changes, [{ kind: "gone", prefix: "10.244.1.0/24" }]);
    assert.equal(rib.rejected("1").get("10.244.1.0/24")?.reason, "wrong next hop");
  });

  test("a new policy runs over the Adj-RIB-In again: newly allowed routes enter, newly refused leave", () => {
    const rib = new Rib(local);
    rib.setImportPolicy((_f, prefix) => (prefix === "10.244.1.0/24" ? undefined : "not yet"));
    rib.receive(peer("1"), announce(["10.244.1.0/24", "10.244.3.0/24"]));
    assert.equal(rib.size, 1);
    const changes = rib.setImportPolicy((_f, prefix) =>
      prefix === "10.244.3.0/24" ? undefined : "no longer",
    );
    assert.deepEqual(changes.map((c) => `${c.kind} ${c.prefix}`).sort(), [
      "best 10.244.3.0/24",
      "gone 10.244.1.0/24",
    ]);
    assert.equal(rib.rejected("1").get("10.244.1.0/24")?.reason, "no longer");
    assert.equal(rib.rejected("1").has("10.244.3.0/24"), false);
  });

  test("originated routes are ours: import policy never judges them", () => {
    const rib = new Rib(local);
    rib.setImportPolicy(() => "refuse everything");
    rib.originate("10.244.9.0/24", { origin: "igp", asPath: [] });
    assert.ok(rib.best("10.244.9.0/24"));
    rib.setImportPolicy(() => "still refuse");
    assert.ok(rib.best("10.244.9.0/24"));
  });
});
