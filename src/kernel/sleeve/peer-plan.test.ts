import assert from "node:assert/strict";
import { test } from "node:test";
import type { SleevePeer } from "./api.js";
import { SleeveError } from "./errors.js";
import { planSleevePeers } from "./peer-plan.js";

const peer = (node: string, nodeIp: string, podCidr: string, port = 6783): SleevePeer => ({
  node,
  nodeIp,
  podCidr,
  port,
});
const n2 = peer("n2", "192.168.10.12", "10.244.2.0/24");
const n3 = peer("n3", "192.168.20.13", "10.244.3.0/24");

test("a first table is one peer command per node; the same table again sends nothing", () => {
  const first = planSleevePeers(new Map(), [n2, n3]);
  assert.deepEqual(first.commands, [
    "peer 192.168.10.12 10.244.2.0/24 6783",
    "peer 192.168.20.13 10.244.3.0/24 6783",
  ]);
  assert.deepEqual([first.added, first.removed, first.changed], [2, 0, 0]);
  const again = planSleevePeers(first.table, [n3, n2]);
  assert.deepEqual(again.commands, []);
});

test("a node that left is removed before others change; a moved subnet or port is one peer command", () => {
  const table = planSleevePeers(new Map(), [n2, n3]).table;
  const plan = planSleevePeers(table, [peer("n2", "192.168.10.12", "10.244.9.0/24", 7000)]);
  assert.deepEqual(plan.commands, ["unpeer 192.168.20.13", "peer 192.168.10.12 10.244.9.0/24 7000"]);
  assert.deepEqual([plan.added, plan.removed, plan.changed], [0, 1, 1]);
});

test("bad peers are refused naming the peer: IPv6, a bad CIDR, a port out of range, two nodes at one address", () => {
  const bad: [SleevePeer[], RegExp][] = [
    [[peer("n4", "fd00::4", "10.244.4.0/24")], /n4: node address "fd00::4" is not IPv4/],
    [[peer("n4", "192.168.10.14", "10.244.4.0")], /n4: pod CIDR "10.244.4.0" is not an IPv4 CIDR/],
    [[peer("n4", "192.168.10.14", "10.244.4.0/24", 0)], /n4: port 0 is not 1 to 65535/],
    [[n2, peer("n5", "192.168.10.12", "10.244.5.0/24")], /n5: node address 192.168.10.12 is also n2's/],
  ];
  for (const [peers, message] of bad)
    assert.throws(
      () => planSleevePeers(new Map(), peers),
      (e) => e instanceof SleeveError && e.code === "sleeve.invalid-peers" && message.test(e.message),
    );
});
