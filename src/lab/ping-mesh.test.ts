import assert from "node:assert/strict";
import { test } from "node:test";
import { crossNodePairs } from "./ping-mesh.js";
import type { LabPodState } from "./state.js";

const pods = (nodes: number): LabPodState[] =>
  Array.from({ length: nodes }, (_, i) => ({
    name: `n${i + 1}-p1`,
    ns: `lab-n${i + 1}-p1`,
    node: `n${i + 1}`,
    ip: `10.244.${i + 1}.2`,
  }));

test("without a limit: every pod to every pod on another node", () => {
  const p = crossNodePairs(pods(5));
  assert.equal(p.length, 5 * 4);
  assert.ok(p.every(([a, b]) => a.node !== b.node));
});

test("a sample of a 25-node lab: the limit, distinct pairs, never within a node, from and to most nodes", () => {
  const p = crossNodePairs(pods(25), 50);
  assert.equal(p.length, 50);
  assert.equal(new Set(p.map(([a, b]) => `${a.name}>${b.name}`)).size, 50);
  assert.ok(p.every(([a, b]) => a.node !== b.node));
  assert.ok(new Set(p.map(([a]) => a.node)).size >= 20, "sources spread over the lab");
  assert.ok(new Set(p.map(([, b]) => b.node)).size >= 20, "destinations spread over the lab");
});

test("a limit of 0 pings nobody", () => {
  assert.deepEqual(crossNodePairs(pods(3), 0), []);
});
