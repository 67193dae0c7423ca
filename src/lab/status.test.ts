import assert from "node:assert/strict";
import { test } from "node:test";
import { type LabState, withProcess } from "./state.js";
import { agentWord, formatLabStatus, type LabStatusReport } from "./status.js";

const report = (agent: LabStatusReport["nodes"][number]["agent"], ok = false): LabStatusReport => ({
  up: true,
  complete: true,
  ok,
  model: "vxlan",
  underlay: "l2",
  nodes: [
    { name: "n1", ip: "192.168.10.11", ns: "strata-lab-n1", subnet: "10.244.1.0/24", podMtu: 1450, agent },
  ],
  pods: [{ name: "n1-p1", node: "n1", ip: "10.244.1.2", present: false }],
  datastore: { kind: "embedded", endpoint: "/run/strata-lab/datastore/kv.sock", alive: false },
  processes: [],
});

test("an agent is shown as healthy, unhealthy with the HTTP status, not answering, dead or stopped", () => {
  assert.equal(agentWord({ pid: 7, alive: true, healthy: true, httpStatus: 200 }), "healthy");
  assert.equal(agentWord({ pid: 7, alive: true, healthy: false, httpStatus: 503 }), "unhealthy (503)");
  assert.equal(agentWord({ pid: 7, alive: true, healthy: false }), "not answering");
  assert.equal(agentWord({ pid: 7, alive: false, healthy: false }), "dead");
  assert.equal(agentWord({ alive: false, healthy: false }), "stopped");
});

test("the table names a stopped datastore, a pod whose namespace is gone, and says NOT ok", () => {
  const text = formatLabStatus(report({ alive: false, healthy: false }));
  assert.match(text, /datastore embedded \/run\/strata-lab\/datastore\/kv\.sock \(stopped\)/);
  assert.match(text, /^n1 +192\.168\.10\.11 +10\.244\.1\.0\/24 +- +stopped$/m);
  assert.match(text, /n1-p1 +n1 +10\.244\.1\.2 +\(namespace gone\)/);
  assert.match(text, /NOT ok/);
});

test("recording a process replaces the record of the same role and node, and keeps the node's pid in step", () => {
  const base: LabState = {
    spec: {
      model: "vxlan",
      nodes: 2,
      podsPerNode: 0,
      underlay: "l2",
      datastore: "embedded",
      clusterCidr: "10.244.0.0/16",
      underlayMtu: 1500,
    },
    complete: false,
    nodes: [
      { name: "n1", ns: "strata-lab-n1", ip: "192.168.10.11", subnet: "", podMtu: 0, pid: 0 },
      { name: "n2", ns: "strata-lab-n2", ip: "192.168.10.12", subnet: "", podMtu: 0, pid: 0 },
    ],
    pods: [],
    processes: [],
    agentDatastoreArgs: [],
  };
  const a1 = {
    role: "agent" as const,
    node: "n1",
    argv: ["x"],
    log: "l",
    running: { pid: 10, startTime: "5" },
  };
  const a2 = {
    role: "agent" as const,
    node: "n2",
    argv: ["y"],
    log: "l",
    running: { pid: 11, startTime: "6" },
  };
  const s1 = withProcess(withProcess(base, a1), a2);
  assert.deepEqual(
    s1.nodes.map((n) => n.pid),
    [10, 11],
  );
  const { running: _, ...stopped } = a1;
  const s2 = withProcess(s1, stopped);
  assert.equal(s2.processes.length, 2);
  assert.deepEqual(s2.processes[0], stopped);
  assert.deepEqual(
    s2.nodes.map((n) => n.pid),
    [0, 11],
  );
});
