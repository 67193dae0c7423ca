import assert from "node:assert/strict";
import { test } from "node:test";
import type { LabState } from "../lab/state.js";
import { parseEthtoolFeatures, parseRouteGet } from "./gather-kernel.js";
import { checkUnderlayLinks, nodeDoctorArgs } from "./lab-doctor.js";

test("ethtool -k output: features on and off, [fixed] ignored, headers skipped", () => {
  const text = [
    "Features for strata.1:",
    "rx-checksumming: on",
    "tx-checksumming: on",
    "\ttx-checksum-ipv4: off [fixed]",
    "\ttx-checksum-ip-generic: on",
    "scatter-gather: off",
  ].join("\n");
  assert.deepEqual(parseEthtoolFeatures(text), {
    "rx-checksumming": true,
    "tx-checksumming": true,
    "tx-checksum-ipv4": false,
    "tx-checksum-ip-generic": true,
    "scatter-gather": false,
  });
});

test("ip -j route get: device and gateway; an unreachable destination keeps the kernel's words", () => {
  const out =
    '[{"dst":"10.244.2.1","gateway":"10.244.2.0","dev":"strata.1","prefsrc":"10.244.1.0","flags":["onlink"],"uid":0,"cache":[]}]';
  assert.deepEqual(parseRouteGet("10.244.2.1", 0, out, ""), {
    dst: "10.244.2.1",
    dev: "strata.1",
    via: "10.244.2.0",
  });
  assert.deepEqual(parseRouteGet("10.9.9.9", 2, "", "RTNETLINK answers: Network is unreachable\n"), {
    dst: "10.9.9.9",
    error: "Network is unreachable",
  });
  assert.equal(parseRouteGet("10.9.9.9", 0, '[{"type":"blackhole","dst":"10.9.9.9"}]', "").dev, undefined);
});

const state = {
  spec: {
    model: "vxlan",
    nodes: 2,
    podsPerNode: 0,
    underlay: "l2",
    datastore: "embedded",
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
  },
  complete: true,
  nodes: [
    { name: "n1", ns: "strata-lab-n1", ip: "192.168.10.11", subnet: "10.244.1.0/24", podMtu: 1450, pid: 1 },
    { name: "n2", ns: "strata-lab-n2", ip: "192.168.10.12", subnet: "10.244.2.0/24", podMtu: 1450, pid: 2 },
  ],
  pods: [],
  processes: [],
  agentDatastoreArgs: ["--datastore", "embedded:/run/strata-lab/datastore/kv.sock"],
} as LabState;

test("lab: each node's switch port below the underlay MTU is named with the command that fixes it", () => {
  const links = [
    { name: "p-n1", mtu: 1500 },
    { name: "p-n2", mtu: 1400 },
  ];
  const [v, ...rest] = checkUnderlayLinks(state, links);
  assert.equal(rest.length, 0);
  assert.equal(v?.node, "n2");
  assert.equal(v?.reason, "mtu-exceeded");
  assert.equal(v?.fix, "ip -n strata-lab-underlay link set p-n2 mtu 1500");
  assert.equal(checkUnderlayLinks(state, [{ name: "p-n2", mtu: 1500 }])[0]?.ok, true);
});

test("lab: a node's doctor gets its agent's state dir and datastore flags", () => {
  assert.deepEqual(nodeDoctorArgs(state, "n2"), [
    ...["doctor", "--json", "--node", "n2", "--underlay-dev", "eth0"],
    ...["--state-dir", "/run/strata-lab/n2", "--cluster-cidr", "10.244.0.0/16"],
    ...["--datastore", "embedded:/run/strata-lab/datastore/kv.sock"],
  ]);
});
