import assert from "node:assert/strict";
import { test } from "node:test";
import { planLab } from "./topology.js";
import { underlayNeighbourOps } from "./underlay-neighbours.js";

const spec = (underlay: "l2" | "l3", nodes: number) =>
  planLab({
    model: "vxlan",
    nodes,
    podsPerNode: 0,
    underlay,
    datastore: "embedded",
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
  });
const macs = (names: string[]) =>
  new Map(names.map((n, i) => [n, `02:00:00:00:00:${(i + 1).toString(16).padStart(2, "0")}`]));

test("l2: each node holds every other node and its gateway as permanent ARP entries; the switch holds every node", () => {
  const plan = spec("l2", 3);
  const ops = underlayNeighbourOps(
    plan.nodes,
    macs(["n1", "n2", "n3"]),
    new Map([["a", "02:00:00:00:ff:01"]]),
    "u",
  );
  const n1 = ops.get("strata-lab-n1") ?? [];
  assert.equal(n1.length, 3);
  assert.ok(n1.every((o) => o.op === "neigh.replace" && o.permanent && o.dev === "eth0"));
  const ips = n1.map((o) => (o.op === "neigh.replace" ? `${o.ip} ${o.mac}` : ""));
  const [n2, n3] = [plan.nodes[1], plan.nodes[2]];
  assert.deepEqual(ips, [
    `${plan.nodes[0]?.gateway} 02:00:00:00:ff:01`,
    `${n2?.ip} 02:00:00:00:00:02`,
    `${n3?.ip} 02:00:00:00:00:03`,
  ]);
  assert.equal(ops.get("u")?.length, 3);
});

test("at 200 nodes: 199 + 1 entries per node, none dynamic (the machine-wide limit of 1,024 is for dynamic ones)", () => {
  const plan = spec("l2", 200);
  const ops = underlayNeighbourOps(
    plan.nodes,
    macs(plan.nodes.map((n) => n.name)),
    new Map([["a", "02:ff:00:00:00:01"]]),
    "u",
  );
  assert.equal(ops.get("strata-lab-n200")?.length, 200);
  assert.equal([...ops.values()].flat().length, 200 * 200 + 200);
});

test("l3: a node's static entries stay on its own segment (the others are reached through the router)", () => {
  const plan = spec("l3", 4);
  const ops = underlayNeighbourOps(
    plan.nodes,
    macs(plan.nodes.map((n) => n.name)),
    new Map([
      ["a", "02:ff:00:00:00:0a"],
      ["b", "02:ff:00:00:00:0b"],
    ]),
    "u",
  );
  for (const n of plan.nodes) {
    const peers = plan.nodes.filter((m) => m !== n && m.segment === n.segment).map((m) => m.ip);
    const got = (ops.get(n.ns) ?? []).flatMap((o) => (o.op === "neigh.replace" ? [o.ip] : []));
    assert.deepEqual(got, [n.gateway, ...peers]);
  }
  const u = ops.get("u") ?? [];
  assert.deepEqual(
    u.map((o) => (o.op === "neigh.replace" ? o.dev : "")),
    plan.nodes.map((n) => `sw-${n.segment}`),
  );
});

test("a node without a known MAC is an error, not a missing entry", () => {
  const plan = spec("l2", 2);
  assert.throws(() => underlayNeighbourOps(plan.nodes, macs(["n1"]), new Map(), "u"), /no MAC for n2's eth0/);
});
