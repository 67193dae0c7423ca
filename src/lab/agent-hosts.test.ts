import assert from "node:assert/strict";
import { test } from "node:test";
import { agentsPerProcess, hostingRefusal, maxAgentsForDescriptors, planAgentHosts } from "./agent-hosts.js";

const lab = (
  nodes: number,
  model: "vxlan" | "bgp" | "wireguard" = "vxlan",
  datastore: "embedded" | "etcd" = "embedded",
) => ({
  nodes,
  model,
  datastore,
});

test("auto: a process per agent up to 20 nodes, then a host per core, none over 100 agents", () => {
  assert.equal(agentsPerProcess(lab(3), undefined, 2), 1);
  assert.equal(agentsPerProcess(lab(20), undefined, 2), 1);
  assert.equal(agentsPerProcess(lab(21), undefined, 2), 11);
  assert.equal(agentsPerProcess(lab(50), undefined, 2), 25);
  assert.equal(agentsPerProcess(lab(200), undefined, 2), 100);
  assert.equal(agentsPerProcess(lab(200), undefined, 1), 100);
  assert.equal(agentsPerProcess(lab(200), undefined, 8), 25);
  assert.equal(agentsPerProcess(lab(101), undefined, 1), 51);
  assert.equal(agentsPerProcess(lab(200, "wireguard"), undefined, 2), 1);
  assert.equal(agentsPerProcess(lab(200, "bgp", "etcd"), undefined, 2), 1);
  assert.equal(agentsPerProcess(lab(5), 3, 2), 3);
  assert.equal(agentsPerProcess(lab(5), 9, 2), 5);
});

test("a full mesh's hosts hold no more BGP sockets than a process may open", () => {
  const mesh = (nodes: number, routeReflectors = 0) => ({
    ...lab(nodes, "bgp"),
    underlay: "l2" as const,
    routeReflectors,
  });
  // 200 nodes: 199 sessions each (+¼ while they collide, +16 other descriptors): 66 fit in 20,000.
  assert.equal(maxAgentsForDescriptors(mesh(200), 20_000), 66);
  assert.equal(agentsPerProcess(mesh(200), undefined, 2, 20_000), 50);
  // Without the limit it was 2 hosts of 100 (19,900 sockets each): the last sessions hit EMFILE.
  assert.equal(agentsPerProcess(mesh(200), undefined, 2), 100);
  assert.equal(agentsPerProcess(mesh(100), undefined, 2, 20_000), 50);
  // Reflectors: clients hold a session per reflector; the reflectors' own are budgeted per host.
  assert.equal(agentsPerProcess(mesh(200, 2), undefined, 2, 20_000), 100);
  assert.ok(maxAgentsForDescriptors(mesh(200, 2), 20_000) >= 100);
  // Other models hold no BGP sockets; an unknown limit limits nothing.
  assert.equal(maxAgentsForDescriptors({ ...mesh(200), model: "vxlan" }, 1024), Number.POSITIVE_INFINITY);
  assert.equal(maxAgentsForDescriptors(mesh(200), undefined), Number.POSITIVE_INFINITY);
  assert.equal(maxAgentsForDescriptors({ ...mesh(200), underlay: "l3" }, 20_000), 985);
});

test("hosting is refused, with why, for models that need a process each and for etcd", () => {
  assert.equal(hostingRefusal(lab(1, "bgp")), undefined);
  assert.match(hostingRefusal(lab(1, "wireguard")) ?? "", /wireguard model's agents need a process each/);
  assert.match(hostingRefusal(lab(1, "vxlan", "etcd")) ?? "", /--datastore embedded/);
});

test("nodes are dealt round-robin, so the agents that start together are on different hosts", () => {
  const nodes = Array.from({ length: 7 }, (_, i) => `n${i + 1}`);
  assert.deepEqual(planAgentHosts(nodes, 1), []);
  assert.deepEqual(planAgentHosts(nodes, 3), [
    { id: "h0", nodes: ["n1", "n4", "n7"] },
    { id: "h1", nodes: ["n2", "n5"] },
    { id: "h2", nodes: ["n3", "n6"] },
  ]);
  const big = planAgentHosts(
    Array.from({ length: 200 }, (_, i) => `n${i + 1}`),
    50,
  );
  assert.equal(big.length, 4);
  assert.ok(big.every((h) => h.nodes.length === 50));
  assert.equal(new Set(big.flatMap((h) => h.nodes)).size, 200);
});
