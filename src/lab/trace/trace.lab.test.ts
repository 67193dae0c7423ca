import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../../test/support/lab-spec.js";
import { labPaths } from "../../cli/paths.js";
import { eventually } from "../../common/eventually.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { startRecordedProcess, stopRecordedProcess } from "../control.js";
import { labDown, labUp } from "../runner.js";
import { type LabState, readLabStateSync, writeLabState } from "../state.js";
import type { LabModel, LabSpec } from "../topology.js";
import { runLabTrace, type TraceRequest } from "./run-trace.js";
import type { StopReason } from "./stop-reasons.js";
import type { TraceReport } from "./trace-model.js";

/**
 * `strata lab trace` in a running lab: one lab per model and underlay (2 nodes, 2 pods each), a
 * healthy trace with every hop seen, then faults injected into that lab, each named at the right
 * hop with the right reason. Run under the lab lock (flock /tmp/strata-lab.lock).
 */
const kernel = createIproute2Kernel();
const spec = (model: LabModel, underlay: "l2" | "l3"): LabSpec => labSpec({ model, underlay, nodes: 2 });

const trace = (state: LabState, req: Partial<TraceRequest> = {}) =>
  runLabTrace(kernel, state, { src: "n1-p1", dst: "n2-p1", ...req });

const stopHop = (r: TraceReport) => r.hops.find((h) => h.stop);

function assertHealthy(r: TraceReport, actions: string[]): void {
  assert.equal(r.delivered, true, JSON.stringify(r.stop));
  assert.equal(r.stop, undefined);
  assert.deepEqual(
    r.hops.map((h) => `${h.place}:${h.action}`),
    actions,
  );
  assert.deepEqual(
    r.hops.filter((h) => !h.seen).map((h) => `${h.place}:${h.action}`),
    [],
    "every hop seen by the probe",
  );
}

function assertStop(r: TraceReport, place: string, expected: Partial<StopReason>): void {
  assert.equal(r.delivered, false, "the probe did not arrive");
  assert.equal(stopHop(r)?.place, place, `stopped at ${place}: ${JSON.stringify(r.stop)}`);
  for (const [k, v] of Object.entries(expected))
    assert.deepEqual((r.stop as Record<string, unknown> | undefined)?.[k], v, `stop.${k}`);
}

const vxlanHops = (underlayAction: string) => [
  "n1-p1:send",
  "n1:encapsulate",
  "n1:send",
  `underlay:${underlayAction}`,
  "n2:decapsulate",
  "n2:forward",
  "n2-p1:deliver",
];
const directHops = (underlayAction: string) => [
  "n1-p1:send",
  "n1:forward",
  `underlay:${underlayAction}`,
  "n2:forward",
  "n2-p1:deliver",
];

/** Stop n1's agent (its routes stay: they outlive it), so a fault it would repair stays put. */
const stopAgent = (state: LabState, node: string) => stopRecordedProcess(state, "agent", node);

async function deletePodRoute(state: LabState): Promise<void> {
  const [n1, n2] = state.nodes;
  assert.ok(n1 && n2);
  await stopAgent(state, "n1");
  await kernel.apply(namedNetns(n1.ns), [{ op: "route.delete", route: { dst: n2.subnet } }]);
}

async function assertRouteDeleted(state: LabState): Promise<void> {
  await deletePodRoute(state);
  const r = await trace(state);
  assertStop(r, "n1", { kind: "pod-route-missing", node: "n1", owner: "n2", subnet: state.nodes[1]?.subnet });
}

async function assertSpoofDropped(state: LabState): Promise<void> {
  const forged = state.pods.find((p) => p.name === "n1-p2")?.ip;
  const r = await trace(state, { srcIp: forged });
  assertStop(r, "n1", { kind: "spoofed-source", src: forged });
  const stop = r.stop?.kind === "spoofed-source" ? r.stop : undefined;
  assert.deepEqual(stop?.allowed, [state.pods.find((p) => p.name === "n1-p1")?.ip]);
  assert.equal(
    (stop?.counter?.after ?? 0) - (stop?.counter?.before ?? 0),
    1,
    "the guard's counter rose by one",
  );
  assert.equal(stopHop(r)?.seen, true, "the probe reached the node's guarded port");
}

/** The underlay side of n1's link (where n1's frames are received) gets a lower MTU. */
async function assertMtuLowered(state: LabState, encapsulated: boolean): Promise<void> {
  await kernel.apply(namedNetns("strata-lab-underlay"), [{ op: "link.set", name: "p-n1", mtu: 1400 }]);
  const small = await trace(state);
  assert.equal(small.delivered, true, "small packets still pass");
  const size = 1450;
  const r = await trace(state, { size });
  assertStop(r, "underlay", {
    kind: "mtu-exceeded",
    dev: "p-n1",
    packetBytes: encapsulated ? size + 50 : size,
    mtu: 1400,
  });
  assert.equal(r.hops.find((h) => h.place === "n1" && h.outDev === "eth0")?.seen, true, "it left n1");
}

describe("strata lab trace in a running lab", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("vxlan on l2: every hop seen with the outer header captured; FDB entry deleted, MTU lowered, spoofed source", async () => {
    const state = await labUp(kernel, spec("vxlan", "l2"), labPaths(), quietProgress);
    const healthy = await trace(state);
    assertHealthy(healthy, vxlanHops("switch"));
    const sw = healthy.hops.find((h) => h.action === "switch");
    // Captured on the switch's ports as it went in and out: the outer header as it was on the wire.
    assert.deepEqual(sw?.sightings.map((s) => s.dev).sort(), ["p-n1", "p-n2"]);
    for (const s of sw?.sightings ?? [])
      assert.deepEqual(s.outer, { src: "192.168.10.11", dst: "192.168.10.12", port: 8472, vni: 1 });
    assert.ok(healthy.timings.totalMs > 0);
    await assertSpoofDropped(state);
    await assertMtuLowered(state, true);
    await kernel.apply(namedNetns("strata-lab-underlay"), [{ op: "link.set", name: "p-n1", mtu: 1500 }]);
    // The FDB entry for n2's VTEP goes (with n1's agent stopped, nothing puts it back).
    await stopAgent(state, "n1");
    const n1 = namedNetns("strata-lab-n1");
    const entry = (await kernel.fdb(n1, "strata.1")).find((e) => e.dst === state.nodes[1]?.ip);
    assert.ok(entry);
    await kernel.apply(n1, [
      { op: "fdb.delete", entry: { dev: "strata.1", mac: entry.mac, dst: entry.dst } },
    ]);
    assertStop(await trace(state), "n1", { kind: "fdb-missing", dev: "strata.1", mac: entry.mac });
    await labDown(kernel);
  });

  test("vxlan on l3: the router forwards the outer packet; a pod route deleted; MTU lowered", async () => {
    const state = await labUp(kernel, spec("vxlan", "l3"), labPaths(), quietProgress);
    const healthy = await trace(state);
    assertHealthy(healthy, vxlanHops("forward"));
    assert.equal(healthy.hops[3]?.outer?.dst, "192.168.20.12");
    await assertMtuLowered(state, true);
    await assertRouteDeleted(state);
    await labDown(kernel);
  });

  test("host-gw on l2: every hop seen; a pod route deleted; spoofed source", async () => {
    const state = await labUp(kernel, spec("host-gw", "l2"), labPaths(), quietProgress);
    assertHealthy(await trace(state, { proto: "tcp", port: 8080 }), directHops("switch"));
    await assertSpoofDropped(state);
    await assertRouteDeleted(state);
    await labDown(kernel);
  });

  test("vxlan-crosssubnet on l2 (direct) and l3 (encapsulated): every hop seen; MTU lowered, a pod route deleted", async () => {
    let state = await labUp(kernel, spec("vxlan-crosssubnet", "l2"), labPaths(), quietProgress);
    assertHealthy(await trace(state, { proto: "udp" }), directHops("switch"));
    await assertMtuLowered(state, false);
    await labDown(kernel);
    state = await labUp(kernel, spec("vxlan-crosssubnet", "l3"), labPaths(), quietProgress);
    assertHealthy(await trace(state), vxlanHops("forward"));
    await assertRouteDeleted(state);
    await labDown(kernel);
  });

  test("ipip on l2 and gre on l3: every hop seen, the outer header captured as ipip/gre between the nodes; MTU lowered", async () => {
    for (const [model, underlay] of [
      ["ipip", "l2"],
      ["gre", "l3"],
    ] as const) {
      const state = await labUp(kernel, spec(model, underlay), labPaths(), quietProgress);
      const [n1, n2] = state.nodes;
      assert.ok(n1 && n2);
      const healthy = await trace(state);
      assertHealthy(healthy, vxlanHops(underlay === "l2" ? "switch" : "forward"));
      assert.deepEqual(
        { ...healthy.hops[1]?.outer },
        { kind: model, src: n1.ip, dst: n2.ip, overhead: model === "ipip" ? 20 : 24 },
      );
      const captured = healthy.hops[3]?.sightings.map((x) => x.outer) ?? [];
      assert.ok(captured.length > 0);
      for (const o of captured) assert.deepEqual(o, { src: n1.ip, dst: n2.ip, proto: model });
      if (underlay === "l2") {
        await kernel.apply(namedNetns("strata-lab-underlay"), [{ op: "link.set", name: "p-n1", mtu: 1400 }]);
        const r = await trace(state, { size: 1450 });
        assertStop(r, "underlay", { kind: "mtu-exceeded", dev: "p-n1", packetBytes: 1470, mtu: 1400 });
      }
      await labDown(kernel);
    }
  });

  test("bgp on l2: every hop seen; a pod route deleted", async () => {
    const state = await labUp(kernel, spec("bgp", "l2"), labPaths(), quietProgress);
    const healthy = await trace(state);
    assertHealthy(healthy, directHops("switch"));
    assert.match(healthy.hops[1]?.decidedBy ?? "", /proto 147/);
    await assertRouteDeleted(state);
    await labDown(kernel);
  });

  test("bgp on l3: every hop seen; the router's session with n2 broken (peer address changed) is named", async () => {
    const state = await labUp(kernel, spec("bgp", "l3"), labPaths(), quietProgress);
    assertHealthy(await trace(state), directHops("forward"));
    // The router is restarted with a wrong address for n2: their session cannot come up, and the
    // router (no lease knowledge) drops n2's pod route.
    await stopRecordedProcess(state, "router", undefined);
    const now = readLabStateSync() ?? state;
    writeLabState({
      ...now,
      processes: now.processes.map((p) =>
        p.role === "router"
          ? { ...p, argv: p.argv.map((a) => a.replace(/^192\.168\.20\.12,/, "192.168.20.99,")) }
          : p,
      ),
    });
    await startRecordedProcess(readLabStateSync() ?? now, "router", undefined, kernel);
    // The old speaker may exit before it withdraws what it installed; the new one never learns it.
    const n2 = state.nodes[1];
    assert.ok(n2);
    await kernel.apply(namedNetns("strata-lab-underlay"), [
      { op: "route.delete", route: { dst: n2.subnet }, ifPresent: true },
    ]);
    let last: TraceReport | undefined;
    await eventually(
      async () => {
        last = await trace(state);
        return last.stop?.kind === "bgp-session-down";
      },
      "trace names the broken session",
      { timeoutMs: 30_000 },
    );
    assert.ok(last);
    // Where it stops depends on whether n1 kept n2's route (retention) or dropped it too.
    assert.ok(["n1", "underlay"].includes(stopHop(last)?.place ?? ""), JSON.stringify(stopHop(last)));
    assertStop(last, stopHop(last)?.place ?? "", {
      kind: "bgp-session-down",
      node: "n2",
      peer: "192.168.20.1",
    });
    assert.notEqual(last.stop?.kind === "bgp-session-down" && last.stop.state, "Established");
    await labDown(kernel);
  });
});
