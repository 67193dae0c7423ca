import assert from "node:assert/strict";
import { test } from "node:test";
import type { KernelOp } from "../kernel/api.js";
import { planLab } from "./topology.js";
import { labNodeMac, labSwitchMac } from "./underlay-macs.js";
import { underlayNeighbourOps } from "./underlay-neighbours.js";

const plan = (underlay: "l2" | "l3", nodes: number) =>
  planLab({
    model: "vxlan",
    nodes,
    podsPerNode: 0,
    underlay,
    datastore: "embedded",
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
  });

// Locally administered (bit 1 of the first octet) unicast (bit 0 clear), IEEE 802 §8.2.
const locallyAdministeredUnicast = (mac: string) => {
  const first = Number.parseInt(mac.slice(0, 2), 16);
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) && (first & 0b10) !== 0 && (first & 0b1) === 0;
};

test("every node of a 200-node lab gets its own locally administered unicast MAC, none a switch's", () => {
  const p = plan("l3", 200);
  const macs = p.nodes.map((n) => n.mac);
  assert.equal(new Set(macs).size, 200);
  const all = [...macs, labSwitchMac("a"), labSwitchMac("b")];
  assert.equal(new Set(all).size, 202);
  for (const mac of all) assert.ok(locallyAdministeredUnicast(mac), mac);
});

test("the MACs are a pure function of the node's index: the same lab plans the same addresses", () => {
  assert.deepEqual(
    plan("l2", 30).nodes.map((n) => n.mac),
    plan("l2", 30).nodes.map((n) => n.mac),
  );
  assert.equal(labNodeMac(1), "02:5a:4c:00:00:01");
  assert.equal(labNodeMac(258), "02:5a:4c:00:01:02");
  assert.throws(() => labNodeMac(0), /from 1 to 65535/);
  assert.throws(() => labNodeMac(1.5), /from 1 to 65535/);
});

test("the plan creates each eth0 and each switch with the MAC that the static ARP names", () => {
  const p = plan("l3", 4);
  const linkMac = (ops: readonly KernelOp[], name: string) =>
    ops.flatMap((o) =>
      o.op === "link.add" && o.spec.name === name && "mac" in o.spec ? [o.spec.mac] : [],
    )[0];
  for (const n of p.nodes) assert.equal(linkMac(p.nodeOps[n.name] ?? [], "eth0"), n.mac);
  assert.equal(linkMac(p.underlayOps, "sw-a"), labSwitchMac("a"));
  assert.equal(linkMac(p.underlayOps, "sw-b"), labSwitchMac("b"));
  const arp = underlayNeighbourOps(
    p.nodes,
    new Map(p.nodes.map((n) => [n.name, n.mac])),
    new Map([
      ["a", labSwitchMac("a")],
      ["b", labSwitchMac("b")],
    ]),
    "u",
  );
  // n1 (segment a) resolves n3 (a) to n3's planned eth0 and its gateway to switch a.
  const n1 = arp.get(p.nodes[0]?.ns ?? "") ?? [];
  const macOf = (ip: string | undefined) =>
    n1.flatMap((o) => (o.op === "neigh.replace" && o.ip === ip ? [o.mac] : []))[0];
  assert.equal(macOf(p.nodes[2]?.ip), p.nodes[2]?.mac);
  assert.equal(macOf(p.nodes[0]?.gateway), labSwitchMac("a"));
});
