import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bestPath } from "./decision.js";
import type { Path, PeerInfo } from "./path.js";
import { exportAttributes, isReflectionLoop, shouldAdvertise } from "./reflection.js";

const peer = (id: string, o: Partial<PeerInfo> = {}): PeerInfo => ({
  id,
  routerId: `10.0.0.${id}`,
  address: `192.168.0.${id}`,
  asn: 65000,
  ibgp: true,
  rrClient: false,
  ...o,
});
const path = (from: PeerInfo | undefined, attrs: Path["attributes"] = {}): Path => ({
  from,
  attributes: { origin: "igp", asPath: [], nextHop: "192.168.0.9", ...attrs },
});

describe("decision process (RFC 4271 §9.1.2.2)", () => {
  const cases: [string, Path, Path][] = [
    ["highest LOCAL_PREF", path(peer("1"), { localPref: 200 }), path(peer("2"), { localPref: 100 })],
    [
      "shortest AS_PATH",
      path(peer("1", { ibgp: false }), { asPath: [{ type: "sequence", asns: [1] }] }),
      path(peer("2", { ibgp: false }), { asPath: [{ type: "sequence", asns: [1, 2] }] }),
    ],
    ["lowest ORIGIN", path(peer("1"), { origin: "igp" }), path(peer("2"), { origin: "incomplete" })],
    [
      "lowest MULTI_EXIT_DISC",
      path(peer("1"), { asPath: [{ type: "sequence", asns: [7] }], med: 5 }),
      path(peer("2"), { asPath: [{ type: "sequence", asns: [7] }], med: 50 }),
    ],
    ["eBGP over iBGP", path(peer("2", { ibgp: false })), path(peer("1"))],
    ["lowest BGP identifier", path(peer("1")), path(peer("2"))],
  ];
  for (const [reason, winner, loser] of cases) {
    test(`${reason} decides`, () => {
      for (const order of [
        [winner, loser],
        [loser, winner],
      ]) {
        const r = bestPath(order);
        assert.equal(r.best, winner);
        assert.equal(r.reason, reason);
      }
    });
  }

  test("MED is not compared across neighbouring ASes", () => {
    const a = path(peer("2"), { asPath: [{ type: "sequence", asns: [7] }], med: 50 });
    const b = path(peer("1"), { asPath: [{ type: "sequence", asns: [8] }], med: 5 });
    assert.equal(bestPath([a, b]).reason, "lowest BGP identifier");
  });

  test("a reflected route's ORIGINATOR_ID stands in for the router id; then CLUSTER_LIST length", () => {
    const a = path(peer("9"), { originatorId: "10.0.0.1", clusterList: ["1.1.1.1", "2.2.2.2"] });
    const b = path(peer("3"), { originatorId: "10.0.0.1", clusterList: ["1.1.1.1"] });
    assert.equal(bestPath([a, b]).best, b);
    assert.equal(bestPath([a, b]).reason, "shortest CLUSTER_LIST");
  });
});

describe("route reflection (RFC 4456)", () => {
  const rr = { asn: 65000, routerId: "10.0.0.100", clusterId: "10.0.0.100" };
  const plain = { asn: 65000, routerId: "10.0.0.100" };
  const client1 = peer("1", { rrClient: true });
  const client2 = peer("2", { rrClient: true });
  const nonClient = peer("3");
  const ebgp = peer("4", { ibgp: false, asn: 65100 });

  test("without reflection, iBGP routes are not passed to other iBGP peers (full mesh rule)", () => {
    assert.equal(shouldAdvertise(plain, path(nonClient), peer("5")), false);
    assert.equal(shouldAdvertise(plain, path(ebgp), nonClient), true);
  });

  test("a reflector sends client routes to everyone, non-client routes to clients only, never back", () => {
    assert.equal(shouldAdvertise(rr, path(client1), client2), true);
    assert.equal(shouldAdvertise(rr, path(client1), nonClient), true);
    assert.equal(shouldAdvertise(rr, path(nonClient), client1), true);
    assert.equal(shouldAdvertise(rr, path(nonClient), peer("6")), false);
    assert.equal(shouldAdvertise(rr, path(client1), client1), false);
  });

  test("reflecting stamps ORIGINATOR_ID and prepends the CLUSTER_ID; eBGP export prepends our AS", () => {
    const out = exportAttributes(rr, path(client1, { clusterList: ["9.9.9.9"] }), client2);
    assert.equal(out.originatorId, client1.routerId);
    assert.deepEqual(out.clusterList, ["10.0.0.100", "9.9.9.9"]);
    const e = exportAttributes(
      rr,
      path(client1, { localPref: 300, asPath: [{ type: "sequence", asns: [65200] }] }),
      ebgp,
    );
    assert.deepEqual(e.asPath, [{ type: "sequence", asns: [65000, 65200] }]);
    assert.equal(e.localPref, undefined);
  });

  test("loop checks: our router id as ORIGINATOR_ID or our cluster in CLUSTER_LIST", () => {
    assert.equal(isReflectionLoop(rr, { originatorId: "10.0.0.100" }), true);
    assert.equal(isReflectionLoop(rr, { clusterList: ["10.0.0.100"] }), true);
    assert.equal(isReflectionLoop(rr, { clusterList: ["10.9.9.9"] }), false);
  });
});

describe("MULTI_EXIT_DISC across ASes (RFC 4271 §5.1.4)", () => {
  const local = { asn: 65000, routerId: "10.0.0.100", clusterId: "10.0.0.100" };
  const fromAs1 = path(peer("1", { ibgp: false, asn: 65001 }), {
    asPath: [{ type: "sequence", asns: [65001] }],
    med: 50,
  });

  test("a MED learned from one AS is not passed to another AS", () => {
    const out = exportAttributes(local, fromAs1, peer("2", { ibgp: false, asn: 65002 }));
    assert.equal(out.med, undefined);
    assert.deepEqual(out.asPath, [{ type: "sequence", asns: [65000, 65001] }]);
    const viaIbgp = path(peer("3"), { med: 70 });
    assert.equal(exportAttributes(local, viaIbgp, peer("2", { ibgp: false, asn: 65002 })).med, undefined);
  });

  test("it is kept inside the AS: iBGP peers and route-reflector clients", () => {
    assert.equal(exportAttributes(local, fromAs1, peer("4")).med, 50);
    const fromClient = path(peer("5", { rrClient: true }), { med: 60 });
    assert.equal(exportAttributes(local, fromClient, peer("6", { rrClient: true })).med, 60);
  });

  test("our own MED (a locally originated route's) still goes to eBGP peers", () => {
    const ours = path(undefined, { med: 10 });
    assert.equal(exportAttributes(local, ours, peer("2", { ibgp: false, asn: 65002 })).med, 10);
  });
});
