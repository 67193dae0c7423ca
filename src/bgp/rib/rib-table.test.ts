import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UpdateMessage } from "../codec/types.js";
import type { PeerInfo } from "./path.js";
import { Rib } from "./rib.js";

const peer = (id: string, o: Partial<PeerInfo> = {}): PeerInfo => ({
  id,
  routerId: `10.0.0.${id}`,
  address: `192.168.0.${id}`,
  asn: 65000,
  ibgp: true,
  rrClient: true,
  ...o,
});
const update = (nlri: string[], o: Partial<UpdateMessage> = {}, localPref = 100): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop: "192.168.0.1", localPref },
  nlri,
  ...o,
});

describe("RIB (Adj-RIB-In → Loc-RIB → export)", () => {
  const rr = { asn: 65000, routerId: "10.0.0.100", clusterId: "10.0.0.100" };

  test("a better path replaces the best; withdrawing it falls back; the last withdrawal removes the prefix", () => {
    const rib = new Rib(rr);
    assert.equal(rib.receive(peer("1"), update(["10.244.1.0/24"]))[0]?.kind, "best");
    const better = rib.receive(peer("2"), update(["10.244.1.0/24"], {}, 200));
    assert.equal(better[0]?.kind === "best" && better[0].path.from?.id, "2");
    const back = rib.receive(peer("2"), update([], { withdrawn: ["10.244.1.0/24"] }));
    assert.equal(back[0]?.kind === "best" && back[0].path.from?.id, "1");
    assert.deepEqual(rib.receive(peer("1"), update([], { withdrawn: ["10.244.1.0/24"] })), [
      { kind: "gone", prefix: "10.244.1.0/24" },
    ]);
    assert.equal(rib.size, 0);
  });

  test("a repeated announcement with the same attributes changes nothing; new attributes replace the path; one entry", () => {
    const rib = new Rib(rr);
    const p1 = peer("1");
    rib.receive(p1, update(["10.244.2.0/24"]));
    // The same session and attributes (a fresh but equal object, as a decoder gives): the same route.
    assert.deepEqual(rib.receive(p1, update(["10.244.2.0/24"])), []);
    const changed = rib.receive(p1, update(["10.244.2.0/24"], {}, 300));
    assert.equal(changed.length, 1);
    assert.equal(changed[0]?.kind === "best" && changed[0].path.attributes.localPref, 300);
    // A new session of the peer (a new PeerInfo) re-announces: its routes are that session's now.
    assert.equal(rib.receive(peer("1"), update(["10.244.2.0/24"], {}, 300)).length, 1);
    assert.equal(rib.size, 1);
  });

  test("every prefix a peer announces with one attribute set shares one Path, however many UPDATEs brought them", () => {
    const rib = new Rib(rr);
    const p1 = peer("1");
    rib.receive(p1, update(["10.244.4.0/24", "10.244.5.0/24"]));
    rib.receive(p1, update(["10.244.6.0/24"]));
    rib.receive(peer("2"), update(["10.244.7.0/24"]));
    const paths = ["10.244.4.0/24", "10.244.5.0/24", "10.244.6.0/24", "10.244.7.0/24"].map((p) =>
      rib.best(p),
    );
    assert.ok(paths[0] !== undefined && paths[0] === paths[1] && paths[1] === paths[2]);
    assert.notEqual(paths[3], paths[0], "another peer's route has its own Path");
    assert.ok(Object.isFrozen(paths[0]));
  });

  test("treat-as-withdraw outcomes withdraw the NLRI instead of installing it", () => {
    const rib = new Rib(rr);
    rib.receive(peer("1"), update(["10.244.3.0/24"]));
    const bad = update(["10.244.3.0/24"], {
      outcomes: [{ action: "treat-as-withdraw", attribute: 1, subcode: 6, reason: "invalid ORIGIN" }],
    });
    assert.deepEqual(rib.receive(peer("1"), bad), [{ kind: "gone", prefix: "10.244.3.0/24" }]);
  });

  test("loops are ignored: our cluster id in CLUSTER_LIST, our AS in an eBGP path", () => {
    const rib = new Rib(rr);
    assert.deepEqual(
      rib.receive(
        peer("1"),
        update(["10.244.4.0/24"], {
          attributes: { origin: "igp", asPath: [], nextHop: "1.1.1.1", clusterList: ["10.0.0.100"] },
        }),
      ),
      [],
    );
    const ext = peer("9", { ibgp: false, asn: 65100, rrClient: false });
    assert.deepEqual(
      rib.receive(
        ext,
        update(["10.244.5.0/24"], {
          attributes: {
            origin: "igp",
            asPath: [{ type: "sequence", asns: [65100, 65000] }],
            nextHop: "1.1.1.1",
          },
        }),
      ),
      [],
    );
  });

  test("a peer going down takes its paths; export follows reflection rules", () => {
    const rib = new Rib(rr);
    const changes = rib.receive(peer("1"), update(["10.244.6.0/24", "10.244.7.0/24"]));
    const toClient2 = rib.exportTo(peer("2"), changes);
    assert.equal(toClient2.announce.length, 2);
    assert.deepEqual(toClient2.announce[0]?.attributes.clusterList, ["10.0.0.100"]);
    assert.deepEqual(rib.exportTo(peer("1"), changes).announce, [], "never back to the sender");
    const down = rib.dropPeer("1");
    assert.equal(down.length, 2);
    assert.deepEqual(rib.exportTo(peer("2"), down).withdraw, ["10.244.6.0/24", "10.244.7.0/24"]);
  });

  test("locally originated routes win over learned ones at equal LOCAL_PREF", () => {
    const rib = new Rib(rr);
    rib.receive(peer("1"), update(["10.244.8.0/24"]));
    const c = rib.originate("10.244.8.0/24", {
      origin: "igp",
      asPath: [],
      nextHop: "10.0.0.100",
      localPref: 100,
    });
    assert.equal(c[0]?.kind === "best" && c[0].path.from, undefined);
  });
});

describe("max-prefix (RFC 4486)", () => {
  test("past the limit the peer gets Cease/1 with AFI, SAFI and the limit", async () => {
    const { maxPrefixNotification } = await import("./max-prefix.js");
    const rib = new Rib({ asn: 65000, routerId: "10.0.0.100" });
    rib.receive(peer("1"), update(["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"]));
    assert.equal(rib.prefixCount("1"), 3);
    assert.equal(maxPrefixNotification(rib.prefixCount("1"), 3), undefined);
    rib.receive(peer("1"), update(["10.1.3.0/24"]));
    const n = maxPrefixNotification(rib.prefixCount("1"), 3);
    assert.deepEqual(n, { code: 6, subcode: 1, data: Uint8Array.of(0, 1, 1, 0, 0, 0, 3) });
  });
});
