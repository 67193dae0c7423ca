import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UpdateMessage } from "../codec/types.js";
import type { PeerInfo } from "./path.js";
import { Rib } from "./rib.js";

const peer = (id: string): PeerInfo => ({
  id,
  routerId: `10.0.0.${id}`,
  address: `192.168.0.${id}`,
  asn: 65000,
  ibgp: true,
  rrClient: false,
});
const announce = (nlri: string[], nextHop = "192.168.0.9"): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop },
  nlri,
});

describe("stale routes (RFC 4724 §4.2)", () => {
  test("marked stale, a route stays best; announced again it is fresh; the sweep removes the rest", () => {
    const rib = new Rib({ asn: 65000, routerId: "10.0.0.100" });
    const p1 = peer("1");
    rib.receive(p1, announce(["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]));
    assert.equal(rib.markStale(p1.id), 3);
    assert.equal(rib.size, 3, "stale routes stay in the Loc-RIB");
    assert.ok(rib.best("10.244.2.0/24"));
    rib.receive(p1, announce(["10.244.1.0/24"]));
    rib.receive(p1, { type: "update", withdrawn: ["10.244.3.0/24"], attributes: {}, nlri: [] });
    assert.equal(rib.staleCount(p1.id), 1, "announced and withdrawn ones are no longer stale");
    const gone = rib.sweepStale(p1.id);
    assert.deepEqual(gone, [{ kind: "gone", prefix: "10.244.2.0/24" }]);
    assert.equal(rib.staleCount(p1.id), 0);
    assert.ok(rib.best("10.244.1.0/24"));
  });

  test("a sweep can take one family; another peer's routes are untouched", () => {
    const rib = new Rib({ asn: 65000, routerId: "10.0.0.100" });
    const [p1, p2] = [peer("1"), peer("2")];
    rib.receive(p1, announce(["10.244.1.0/24"]));
    rib.receive(p1, {
      type: "update",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [],
        mpReach: { afi: 2, safi: 1, nextHops: ["2001:db8::1"], nlri: ["2001:db8:1::/64"] },
      },
      nlri: [],
    });
    rib.receive(p2, announce(["10.244.1.0/24"], "192.168.0.8"));
    rib.markStale(p1.id);
    const v6 = rib.sweepStale(p1.id, (p) => p.includes(":"));
    assert.deepEqual(v6, [{ kind: "gone", prefix: "2001:db8:1::/64" }]);
    assert.equal(rib.staleCount(p1.id), 1);
    assert.equal(rib.staleCount(p2.id), 0);
    // The stale IPv4 route goes; p2's path becomes best.
    const v4 = rib.sweepStale(p1.id);
    assert.equal(v4.length, 1);
    assert.equal(rib.best("10.244.1.0/24")?.from?.id, "2");
  });

  test("a route import policy refused is stale too, and swept from the refused set", () => {
    const rib = new Rib({ asn: 65000, routerId: "10.0.0.100" });
    rib.setImportPolicy((_f, prefix) => (prefix === "10.244.9.0/24" ? "not leased" : undefined));
    const p1 = peer("1");
    rib.receive(p1, announce(["10.244.1.0/24", "10.244.9.0/24"]));
    assert.equal(rib.rejected(p1.id).size, 1);
    assert.equal(rib.markStale(p1.id), 2);
    rib.sweepStale(p1.id);
    assert.equal(rib.rejected(p1.id).size, 0);
    assert.equal(rib.size, 0);
  });

  test("dropPeer forgets stale marks", () => {
    const rib = new Rib({ asn: 65000, routerId: "10.0.0.100" });
    const p1 = peer("1");
    rib.receive(p1, announce(["10.244.1.0/24"]));
    rib.markStale(p1.id);
    rib.dropPeer(p1.id);
    assert.equal(rib.staleCount(p1.id), 0);
    rib.receive(p1, announce(["10.244.1.0/24"]));
    assert.equal(rib.staleCount(p1.id), 0);
  });
});
