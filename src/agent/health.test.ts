import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClusterStatus } from "./cluster-agent.js";
import { assessHealth, assessReadiness } from "./health.js";

const now = Date.parse("2026-01-01T12:00:00Z");
const healthy = (): ClusterStatus => ({
  node: "n1",
  model: "vxlan",
  resyncSeconds: 10,
  subnet: "10.244.1.0/24",
  peers: 2,
  peersNotAlive: [],
  unreachable: [],
  reconciles: 3,
  reconcileTriggers: 5,
  routeChanges: { signals: 0, passes: 0, kernelBatches: 0 },
  lastReconcile: { ok: true, at: "2026-01-01T11:59:59Z" },
  firstReconcileAt: "2026-01-01T11:59:00Z",
  missingRoutes: [],
  datastore: { reachable: true, timeoutSeconds: 60 },
  conflist: "written",
  leaseConflicts: [],
});

test("healthy: ok, no problems; a peer whose agent is not alive does not make this node unhealthy", () => {
  assert.deepEqual(assessHealth(healthy(), now), { ok: true, problems: [] });
  assert.deepEqual(assessHealth({ ...healthy(), peersNotAlive: ["n3"] }, now), { ok: true, problems: [] });
});

test("not ok when the last reconcile failed, saying why", () => {
  const h = assessHealth(
    {
      ...healthy(),
      lastReconcile: { ok: false, at: "2026-01-01T11:59:59Z", error: "RTNETLINK answers: busy" },
    },
    now,
  );
  assert.equal(h.ok, false);
  assert.deepEqual(h.problems, ["the last reconcile failed: RTNETLINK answers: busy"]);
});

test("not ok when a route to a peer is missing, naming node, subnet and next hop", () => {
  const h = assessHealth(
    { ...healthy(), missingRoutes: [{ node: "n2", dst: "10.244.2.0/24", via: "192.168.1.12" }] },
    now,
  );
  assert.deepEqual(h.problems, [
    "route to node n2 10.244.2.0/24 via 192.168.1.12 is missing from the kernel",
  ]);
  const many = Array.from({ length: 9 }, (_, i) => ({ dst: `10.244.${i + 2}.0/24` }));
  assert.equal(assessHealth({ ...healthy(), missingRoutes: many }, now).problems.at(-1), "and 4 more");
});

test("not ok once the datastore has been unreachable longer than its limit, not before", () => {
  const down = (s: number): ClusterStatus => ({
    ...healthy(),
    datastore: {
      reachable: false,
      timeoutSeconds: 60,
      unreachableSince: new Date(now - s * 1000).toISOString(),
    },
  });
  assert.equal(assessHealth(down(59), now).ok, true);
  const h = assessHealth(down(75), now);
  assert.equal(h.ok, false);
  assert.match(
    h.problems[0] ?? "",
    /^the datastore has been unreachable for 75 s \(limit 60 s, --datastore-timeout\)/,
  );
});

test("not ok without a subnet, with its own lease rejected or its ownership lost", () => {
  assert.deepEqual(assessHealth({ ...healthy(), subnet: undefined }, now).problems, ["no subnet leased yet"]);
  assert.equal(assessHealth({ ...healthy(), ownLeaseRejected: "overlap: x" }, now).ok, false);
  assert.deepEqual(
    assessHealth({ ...healthy(), ownership: "this node's subnet 10.244.1.0/24 now belongs to node n9" }, now)
      .problems,
    ["this node's subnet 10.244.1.0/24 now belongs to node n9"],
  );
  assert.deepEqual(assessHealth(undefined, now), { ok: true, problems: [] }, "a CNI-only agent");
});

test("ready = subnet leased, conflist written, first reconcile done; each missing one is named", () => {
  assert.deepEqual(assessReadiness(healthy()), { ready: true, waitingFor: [] });
  assert.deepEqual(
    assessReadiness({ ...healthy(), subnet: undefined, conflist: "pending", firstReconcileAt: undefined }),
    {
      ready: false,
      waitingFor: ["a subnet lease", "the CNI conflist to be written", "the first reconcile pass"],
    },
  );
  assert.equal(
    assessReadiness({ ...healthy(), conflist: "not configured" }).ready,
    true,
    "no state directory",
  );
});
