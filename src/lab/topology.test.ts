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
    {
      ns: underlayNs,
      ops: [
        { op: "link.offload", name: "p-n1", tso: false, gso: false },
        { op: "link.offload", name: "p-n2", tso: false, gso: false },
      ],
    },
    { ns: "strata-lab-n1", ops: [{ op: "link.offload", name: "eth0", gro: true }] },
    { ns: "strata-lab-n2", ops: [{ op: "link.offload", name: "eth0", gro: true }] },
  ]);
});
