import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfTunnelError } from "./errors.js";
import { decodeCidrKey, decodeIpv4, decodePeerNode } from "./map-codec.js";
import { type MapWrite, type PeerMapsState, planPeerMaps } from "./peer-maps-plan.js";

const state = (nodes: Record<string, string>, cidrs?: Record<string, string>): PeerMapsState => ({
  nodes: new Map(Object.entries(nodes)),
  cidrs: new Map(
    Object.entries(cidrs ?? Object.fromEntries(Object.entries(nodes).map(([ip, c]) => [c, ip]))),
  ),
});
const n1 = { node: "n1", nodeIp: "192.168.10.11", podCidr: "10.244.1.0/24" };
const n2 = { node: "n2", nodeIp: "192.168.10.12", podCidr: "10.244.2.0/24" };
const n3 = { node: "n3", nodeIp: "192.168.20.13", podCidr: "10.244.3.0/24" };

/** A write as text, decoded back from its bytes (so the test also proves the encoding). */
function describe(w: MapWrite): string {
  const key = w.map === "peer_cidrs" ? decodeCidrKey(w.key) : decodeIpv4(w.key);
  if (w.op === "delete") return `delete ${w.map} ${key}`;
  const value = w.map === "peer_cidrs" ? decodeIpv4(w.value) : decodePeerNode(w.value);
  return `update ${w.map} ${key} → ${value}`;
}

test("empty maps: every peer is added, to both maps", () => {
  const plan = planPeerMaps(state({}), [n1, n2]);
  assert.deepEqual(
    { added: plan.added, removed: plan.removed, changed: plan.changed },
    { added: 2, removed: 0, changed: 0 },
  );
  assert.deepEqual(plan.writes.map(describe), [
    "update peer_nodes 192.168.10.11 → 10.244.1.0/24",
    "update peer_nodes 192.168.10.12 → 10.244.2.0/24",
    "update peer_cidrs 10.244.1.0/24 → 192.168.10.11",
    "update peer_cidrs 10.244.2.0/24 → 192.168.10.12",
  ]);
});

test("maps already equal to the peers: nothing is written", () => {
  const plan = planPeerMaps(state({ "192.168.10.11": "10.244.1.0/24", "192.168.10.12": "10.244.2.0/24" }), [
    n2,
    n1,
  ]);
  assert.deepEqual(plan, { writes: [], added: 0, removed: 0, changed: 0 });
});

test("a node that left is deleted from both maps, and only it", () => {
  const plan = planPeerMaps(state({ "192.168.10.11": "10.244.1.0/24", "192.168.10.12": "10.244.2.0/24" }), [
    n1,
  ]);
  assert.deepEqual(plan.writes.map(describe), [
    "delete peer_cidrs 10.244.2.0/24",
    "delete peer_nodes 192.168.10.12",
  ]);
  assert.equal(plan.removed, 1);
  assert.equal(plan.added + plan.changed, 0);
});

test("a node that joins is added beside the ones in place", () => {
  const plan = planPeerMaps(state({ "192.168.10.11": "10.244.1.0/24" }), [n1, n3]);
  assert.deepEqual(plan.writes.map(describe), [
    "update peer_nodes 192.168.20.13 → 10.244.3.0/24",
    "update peer_cidrs 10.244.3.0/24 → 192.168.20.13",
  ]);
  assert.equal(plan.added, 1);
});

test("a node whose pod CIDR moved is changed: new entries written before the old one is deleted", () => {
  const plan = planPeerMaps(state({ "192.168.10.11": "10.244.9.0/24" }), [n1]);
  assert.deepEqual(plan.writes.map(describe), [
    "update peer_nodes 192.168.10.11 → 10.244.1.0/24",
    "update peer_cidrs 10.244.1.0/24 → 192.168.10.11",
    "delete peer_cidrs 10.244.9.0/24",
  ]);
  assert.deepEqual([plan.added, plan.removed, plan.changed], [0, 0, 1]);
});

test("a node whose address changed: the old address is removed, the new one added", () => {
  const plan = planPeerMaps(state({ "192.168.10.99": "10.244.1.0/24" }), [n1]);
  assert.deepEqual(plan.writes.map(describe), [
    "update peer_nodes 192.168.10.11 → 10.244.1.0/24",
    "update peer_cidrs 10.244.1.0/24 → 192.168.10.11",
    "delete peer_nodes 192.168.10.99",
  ]);
  assert.deepEqual([plan.added, plan.removed, plan.changed], [1, 1, 0]);
});

test("a stray LPM entry (no peer_nodes entry) is deleted; a half-written peer is completed", () => {
  const current = state({ "192.168.10.11": "10.244.1.0/24" }, { "10.244.7.0/24": "192.168.10.77" });
  const plan = planPeerMaps(current, [n1]);
  assert.deepEqual(plan.writes.map(describe), [
    "update peer_cidrs 10.244.1.0/24 → 192.168.10.11",
    "delete peer_cidrs 10.244.7.0/24",
  ]);
  assert.deepEqual([plan.added, plan.removed, plan.changed], [0, 1, 1]);
});

test("host bits in a pod CIDR are cleared, so the same subnet written twice is not a change", () => {
  const plan = planPeerMaps(state({ "192.168.10.11": "10.244.1.0/24" }), [
    { ...n1, podCidr: "10.244.1.7/24" },
  ]);
  assert.deepEqual(plan.writes, []);
});

test("bad peers are refused with a typed error naming the peer and what to fix", () => {
  const refuse = (peers: Parameters<typeof planPeerMaps>[1], re: RegExp) =>
    assert.throws(
      () => planPeerMaps(state({}), peers),
      (e: unknown) =>
        e instanceof BpfTunnelError && e.code === "bpf-tunnel.invalid-peers" && re.test(e.message),
    );
  refuse([{ ...n1, nodeIp: "192.168.10" }], /peer n1: nodeIp "192\.168\.10" is not an IPv4 address/);
  refuse([{ ...n1, nodeIp: "fd00::1" }], /not an IPv4 address/);
  refuse([{ ...n1, podCidr: "10.244.1.0/33" }], /peer n1: podCidr: "10\.244\.1\.0\/33" is not an IPv4 CIDR/);
  refuse([n1, { ...n2, nodeIp: n1.nodeIp }], /peer n2: node address 192\.168\.10\.11 is already peer n1's/);
  refuse(
    [n1, { ...n2, podCidr: "10.244.0.0/16" }],
    /peer n2: pod CIDR 10\.244\.0\.0\/16 overlaps 10\.244\.1\.0\/24 of peer n1/,
  );
});
