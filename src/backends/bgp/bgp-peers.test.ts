import assert from "node:assert/strict";
import { test } from "node:test";
import { numberedLease } from "../../../test/support/leases.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { addressesNotAlive, clusterPeers } from "./bgp-peers.js";

const node = (i: number): NodeLease => numberedLease(i);
const nodes = [1, 2, 3, 4, 5].map(node);
const sessions = (t: { mesh: boolean; routeReflectors: string[] }) => {
  const pairs = new Set<string>();
  for (const n of nodes)
    for (const p of clusterPeers(n, nodes, { asn: 64512, external: [], ...t }))
      pairs.add([n.publicIp, p.address].sort().join("-"));
  return pairs.size;
};

test("full mesh: n(n−1)/2 sessions, each pair dialled from one side only", () => {
  assert.equal(sessions({ mesh: true, routeReflectors: [] }), 10);
  const [a, b] = [node(1), node(2)];
  const ab = clusterPeers(a, nodes, { asn: 64512, mesh: true, routeReflectors: [], external: [] });
  const ba = clusterPeers(b, nodes, { asn: 64512, mesh: true, routeReflectors: [], external: [] });
  assert.equal(ab.find((p) => p.address === b.publicIp)?.passive, false);
  assert.equal(ba.find((p) => p.address === a.publicIp)?.passive, true);
});

test("route reflectors: clients peer only with reflectors; reflectors with all, clients marked", () => {
  assert.equal(sessions({ mesh: true, routeReflectors: ["n1", "n2"] }), 1 + 2 * 3);
  const t = { asn: 64512, mesh: true, routeReflectors: ["n1", "n2"], external: [] };
  const client = clusterPeers(node(4), nodes, t);
  assert.deepEqual(
    client.map((p) => p.address),
    ["192.168.10.11", "192.168.10.12"],
  );
  assert.ok(client.every((p) => !p.rrClient));
  const rr = clusterPeers(node(1), nodes, t);
  assert.equal(rr.length, 4);
  assert.equal(rr.find((p) => p.address === "192.168.10.12")?.rrClient, false, "reflectors are non-clients");
  assert.equal(rr.find((p) => p.address === "192.168.10.13")?.rrClient, true);
});

test("no mesh: only the configured external peers (a top-of-rack router)", () => {
  const tor = { address: "192.168.10.1", asn: 64512 };
  assert.deepEqual(
    clusterPeers(node(1), nodes, { asn: 64512, mesh: false, routeReflectors: [], external: [tor] }),
    [tor],
  );
});

test("a lease handed in again gets the same session configuration object, a new one when its terms change", () => {
  const self = node(1);
  const t = { asn: 64512, mesh: true, routeReflectors: [] as string[], external: [] };
  const first = clusterPeers(self, nodes, t);
  const again = clusterPeers(self, nodes, { ...t });
  for (const [i, c] of first.entries()) assert.equal(again[i], c, "unchanged: the speaker keeps the session");
  // Another node asking about the same lease objects (agents of one host share them) gets its own.
  const fromTwo = clusterPeers(node(2), nodes, t).find((p) => p.address === nodes[2]?.publicIp);
  assert.notEqual(
    fromTwo,
    first.find((p) => p.address === nodes[2]?.publicIp),
  );
  // A key, a reflector role or an AS: new objects with the new terms.
  const key = new Uint8Array([1, 2, 3]);
  const keyed = clusterPeers(self, nodes, { ...t, meshMd5Key: key });
  assert.ok(keyed.every((c, i) => c !== first[i] && c.md5Key === key));
  const reflecting = clusterPeers(self, nodes, { ...t, routeReflectors: [self.node] });
  assert.ok(reflecting.every((c) => c.rrClient === true));
  const otherAs = clusterPeers(self, nodes, { ...t, asn: 64513 });
  assert.ok(otherAs.every((c) => c.asn === 64513));
});

test("the peers whose agents are not known alive, by session address (both of a dual-stack node); none when liveness is unknown", () => {
  const dual: NodeLease = { ...node(3), subnet6: "fd00:10:244:3::/64", publicIp6: "fd00::13" };
  const held = addressesNotAlive([node(1), node(2), dual], new Set(["n1"]));
  assert.deepEqual([...(held ?? [])].sort(), ["192.168.10.12", "192.168.10.13", "fd00::13"]);
  assert.equal(addressesNotAlive([node(1)], undefined), undefined);
});
