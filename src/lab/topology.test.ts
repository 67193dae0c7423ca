import assert from "node:assert/strict";
import { test } from "node:test";
import { type LabSpec, planLab, underlayNs } from "./topology.js";

const spec: LabSpec = {
  model: "vxlan",
  nodes: 2,
  podsPerNode: 1,
  underlay: "l3",
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
};

test("the underlay's veths behave like NICs and wires: ports hand on frames (no TSO/GSO), node uplinks reassemble (GRO)", () => {
  const plan = planLab(spec);
  assert.deepEqual(plan.offloads, [
    { ns: underlayNs, dev: "p-n1", features: ["tso", "off", "gso", "off"] },
    { ns: "strata-lab-n1", dev: "eth0", features: ["gro", "on"] },
    { ns: underlayNs, dev: "p-n2", features: ["tso", "off", "gso", "off"] },
    { ns: "strata-lab-n2", dev: "eth0", features: ["gro", "on"] },
  ]);
});
