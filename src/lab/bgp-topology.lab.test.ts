import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { eventually } from "../common/eventually.js";
import { namedNetns } from "../kernel/api.js";
import { strataRouteProto } from "../kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { agentHealth } from "./agent-health.js";
import { countBgpSessions } from "./bgp-status.js";
import { LabTopologyError, switchRouteReflectors } from "./bgp-topology.js";
import { runChecks } from "./check.js";
import { startRecordedProcess, stopRecordedProcess } from "./control.js";
import { startPingMesh } from "./ping-mesh.js";
import { labDown, labUp } from "./runner.js";
import { type LabState, readLabStateSync } from "./state.js";

const kernel = createIproute2Kernel();
const paths = labPaths();

const sessionsMatch = (state: LabState) =>
  eventually(
    async () => {
      const c = await countBgpSessions(kernel, state);
      return c.total === c.expected;
    },
    "the BGP sessions the kernel shows to match the topology",
    { timeoutMs: 60_000, intervalMs: 200 },
  );

describe("bgp topology switched live (calico#3819)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("full mesh → 2 route reflectors → full mesh under a ping mesh (every pod to every pod on another node, 50/s each): the sessions the kernel shows follow, no echo is lost, every check passes", async () => {
    let state = await labUp(
      kernel,
      labSpec({ model: "bgp", nodes: 5, podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    await sessionsMatch(state);
    assert.equal((await countBgpSessions(kernel, state)).total, 10, "a full mesh of 5");
    const stop = startPingMesh(state.pods, { intervalS: 0.02 });
    try {
      state = await switchRouteReflectors(kernel, state, 2, paths);
      await sessionsMatch(state);
      assert.equal(
        (await countBgpSessions(kernel, state)).total,
        1 + 2 * 3,
        "reflectors n1, n2 and 3 clients",
      );
      const h = (await agentHealth(kernel, state.nodes[4]?.ns ?? "")).body as {
        backend?: { bgpRouteReflectors?: string[]; bgpTopologyFrom?: string };
      };
      assert.deepEqual(h.backend?.bgpRouteReflectors, ["n1", "n2"]);
      assert.equal(h.backend?.bgpTopologyFrom, "datastore");
      await new Promise((r) => setTimeout(r, 1000));
      state = await switchRouteReflectors(kernel, state, 0, paths);
      await sessionsMatch(state);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      const counts = await stop();
      assert.ok(counts.sent > 20 * 60, `pings sent: ${counts.sent}`);
      assert.deepEqual(counts.lossy, [], `lost: ${JSON.stringify(counts)}`);
    }
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // Refused with what to do: a model without BGP, a count beyond the nodes.
    await assert.rejects(
      switchRouteReflectors(kernel, { ...state, spec: { ...state.spec, model: "vxlan" } }, 1, paths),
      LabTopologyError,
    );
    await assert.rejects(
      switchRouteReflectors(kernel, state, 9, paths),
      /whole number from 0 \(full mesh\) to 5/,
    );
    await labDown(kernel);
  });

  test("full mesh → 1 route reflector, then a client's agent restarted: it never lacks a route to another node (the reflector, restarted into its role, does not say R for good)", async () => {
    let state = await labUp(
      kernel,
      labSpec({ model: "bgp", nodes: 4, podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    await sessionsMatch(state);
    state = await switchRouteReflectors(kernel, state, 1, paths);
    await sessionsMatch(state);
    const n3 = state.nodes[2];
    assert.ok(n3);
    const others = state.nodes.filter((n) => n !== n3).map((n) => n.subnet);
    const missingAtN3 = async () => {
      const routes = await kernel.routes(namedNetns(n3.ns), { family: 4 });
      const have = new Set(routes.filter((r) => r.proto === strataRouteProto).map((r) => r.dst));
      return others.filter((s) => !have.has(s));
    };
    await eventually(async () => (await missingAtN3()).length === 0, "n3 has a route to every other node");
    // Every 20 ms from the stop until 1 s after n3's route selection: which routes n3 lacks.
    let sampling = true;
    const lacked = new Set<string>();
    const sampler = (async () => {
      while (sampling) {
        for (const s of await missingAtN3()) lacked.add(s);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await stopRecordedProcess(state, "agent", "n3");
      await startRecordedProcess(readLabStateSync() ?? state, "agent", "n3", kernel);
      type Gr = { restarting: boolean };
      const gr = async () =>
        ((await agentHealth(kernel, n3.ns)).body as { backend?: { bgpGracefulRestart?: Gr } } | undefined)
          ?.backend?.bgpGracefulRestart;
      await eventually(async () => (await gr())?.restarting === false, "n3's route selection done", {
        timeoutMs: 30_000,
      });
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      sampling = false;
      await sampler;
    }
    assert.deepEqual([...lacked], [], "routes n3 lacked at some point during its restart");
    await labDown(kernel);
  });
});
