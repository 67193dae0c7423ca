import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { LabState } from "../state.js";
import { LabPlaces, TraceTargetError } from "./lab-places.js";
import { parseRouteGet, predictStep, routeQuery } from "./predict-step.js";
import type { StopReason } from "./stop-reasons.js";
import type { NsFacts, Position, PredictedHop } from "./trace-model.js";

/**
 * The planner against kernel state recorded in a running lab (test/fixtures/trace: what
 * trace-facts.ts read at each step of a real trace), and that state with one fault written in,
 * as the kernel shows it after the fault.
 */
interface Recorded {
  readonly state: LabState;
  readonly steps: readonly { readonly pos: Position; readonly facts: NsFacts }[];
}

const load = (name: string): Recorded =>
  JSON.parse(
    readFileSync(new URL(`../../../../test/fixtures/trace/${name}.json`, import.meta.url), "utf8"),
  ) as Recorded;

type Edit = (facts: NsFacts, step: number) => NsFacts;

/** Replay the walk: each step's recorded facts answer the position the planner reached. */
function walk(rec: Recorded, edit: Edit = (f) => f, packet?: Partial<Position["packet"]>) {
  const places = new LabPlaces(rec.state);
  const first = rec.steps[0] as Recorded["steps"][number];
  let pos: Position | undefined = { ...first.pos, packet: { ...first.pos.packet, ...packet } };
  const hops: PredictedHop[] = [];
  const positions: Position[] = [];
  for (let i = 0; pos && i < rec.steps.length; i++) {
    const recorded = rec.steps[i] as Recorded["steps"][number];
    assert.equal(pos.ns, recorded.pos.ns, `step ${i}: the walk reached the namespace it recorded`);
    positions.push(pos);
    const r = predictStep(pos, edit(recorded.facts, i), places);
    hops.push(...r.hops);
    if (r.delivered) return { hops, delivered: true, positions };
    pos = r.next;
  }
  return { hops, delivered: false, positions };
}

const stopOf = (hops: readonly PredictedHop[]): StopReason | undefined => hops.find((h) => h.stop)?.stop;
const inNs =
  (ns: string, edit: Edit): Edit =>
  (f, i) =>
    f.ns === ns ? edit(f, i) : f;

describe("trace planner (pure, recorded kernel state)", () => {
  const vx = load("vxlan-l2");
  const n1 = "strata-lab-n1";
  const src = vx.state.pods.find((p) => p.name === "n1-p1")?.ip as string;

  test("a healthy VXLAN path on l2: send, encapsulate, send, switch, decapsulate, forward, deliver", () => {
    const r = walk(vx);
    assert.equal(r.delivered, true);
    assert.deepEqual(
      r.hops.map((h) => `${h.place}:${h.action}`),
      [
        "n1-p1:send",
        "n1:encapsulate",
        "n1:send",
        "underlay:switch",
        "n2:decapsulate",
        "n2:forward",
        "n2-p1:deliver",
      ],
    );
    // Every position the planner reached is the one the kernel was asked about, in order.
    assert.deepEqual(
      r.positions.map((p) => p.ns),
      vx.steps.map((s) => s.pos.ns),
    );
  });

  test("the encapsulation takes device, outer addresses, port and VNI from the neighbour and FDB entries", () => {
    const enc = walk(vx).hops.find((h) => h.action === "encapsulate");
    const n2 = vx.state.nodes.find((n) => n.name === "n2");
    assert.equal(enc?.outDev, "strata.1");
    assert.deepEqual(
      { ...enc?.outer },
      { kind: "vxlan", src: "192.168.10.11", dst: n2?.ip, port: 8472, vni: 1, overhead: 50 },
    );
    assert.match(
      enc?.decidedBy ?? "",
      /proto 147; neigh \S+ lladdr ([0-9a-f:]+); fdb \1 dst 192\.168\.10\.12/,
    );
    // The underlay hops carry the outer header; delivery is of the bare packet.
    const sw = walk(vx).hops.find((h) => h.action === "switch");
    assert.equal(sw?.outer?.dst, n2?.ip);
    assert.deepEqual([sw?.inDev, sw?.outDev], ["p-n1", "p-n2"]);
  });

  test("an FDB entry deleted: the encapsulating node stops it, naming device and VTEP MAC", () => {
    const r = walk(
      vx,
      inNs(n1, (f) => ({ ...f, fdb: [] })),
    );
    const stop = stopOf(r.hops);
    assert.equal(r.delivered, false);
    assert.equal(stop?.kind, "fdb-missing");
    assert.equal(stop?.kind === "fdb-missing" && stop.dev, "strata.1");
    assert.match(stop?.kind === "fdb-missing" ? stop.mac : "", /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(r.hops.at(-1)?.place, "n1");
  });

  test("the VTEP neighbour deleted: vtep-neighbour-missing on the vxlan device", () => {
    const r = walk(
      vx,
      inNs(n1, (f) => ({ ...f, neighbours: f.neighbours.filter((n) => n.dev !== "strata.1") })),
    );
    assert.equal(stopOf(r.hops)?.kind, "vtep-neighbour-missing");
  });

  test("a pod route deleted on a node: it takes the default route, and the trace names node, subnet and owner", () => {
    const n2 = vx.state.nodes.find((n) => n.name === "n2");
    const r = walk(
      vx,
      inNs(n1, (f, i) =>
        i === 1
          ? {
              ...f,
              route: { ok: true, type: "unicast", dst: "x", dev: "eth0", gateway: "192.168.10.1", flags: [] },
              routeEntry: { dst: "default", gateway: "192.168.10.1", dev: "eth0" },
            }
          : f,
      ),
    );
    assert.deepEqual(stopOf(r.hops), {
      kind: "pod-route-missing",
      node: "n1",
      subnet: n2?.subnet,
      owner: "n2",
      took: "route default via 192.168.10.1 dev eth0",
    });
  });

  test("a pod sending from a foreign source: the node's source guard drops it at the pod's port", () => {
    const forged = vx.state.pods.find((p) => p.name === "n1-p2")?.ip as string;
    const r = walk(vx, undefined, { src: forged });
    const stop = stopOf(r.hops);
    assert.equal(stop?.kind, "spoofed-source");
    if (stop?.kind !== "spoofed-source") return;
    assert.equal(stop.src, forged);
    assert.deepEqual(stop.allowed, [src]);
    assert.equal(stop.ns, n1);
    assert.match(stop.port, /^veth/);
  });

  test("a DF packet larger than the receiving underlay port: mtu-exceeded with both sizes", () => {
    const lowered: Edit = inNs("strata-lab-underlay", (f) => ({
      ...f,
      links: f.links.map((l) => (l.name === "p-n1" ? { ...l, mtu: 1400 } : l)),
    }));
    assert.equal(walk(vx, lowered).delivered, true, "84 bytes still fit");
    const r = walk(vx, lowered, { size: 1450 });
    assert.deepEqual(stopOf(r.hops), {
      kind: "mtu-exceeded",
      ns: "strata-lab-underlay",
      dev: "p-n1",
      packetBytes: 1500,
      mtu: 1400,
    });
  });

  test("a packet larger than the pod's own MTU stops at the sender", () => {
    const r = walk(vx, undefined, { size: 1451 });
    assert.deepEqual(stopOf(r.hops), {
      kind: "mtu-exceeded",
      ns: "strata-lab-n1-p1",
      dev: "eth0",
      packetBytes: 1451,
      mtu: 1450,
    });
  });

  test("an unanswered next hop (neighbour FAILED) stops with neighbour-incomplete", () => {
    const failed: Edit = (f, i) =>
      i === 2
        ? { ...f, neighbours: [{ dev: "eth0", ip: "192.168.10.12", mac: undefined, state: "FAILED" }] }
        : f;
    assert.deepEqual(stopOf(walk(vx, failed).hops), {
      kind: "neighbour-incomplete",
      ns: n1,
      dev: "eth0",
      ip: "192.168.10.12",
      state: "FAILED",
    });
  });

  test("no route at all: no-route with the kernel's words", () => {
    const r = walk(vx, (f, i) =>
      i === 0 ? { ...f, route: { ok: false, error: "Network is unreachable" }, routeEntry: undefined } : f,
    );
    assert.deepEqual(stopOf(r.hops), {
      kind: "no-route",
      ns: "strata-lab-n1-p1",
      dst: r.positions[0]?.packet.dst,
      kernelSays: "Network is unreachable",
    });
  });

  test("pod to outside: the node masquerades (strata-nat) and the underlay delivers from the node's address", () => {
    const r = walk(load("vxlan-l2-outside"));
    assert.equal(r.delivered, true);
    const node = r.hops.find((h) => h.place === "n1");
    assert.match(node?.decidedBy ?? "", /masquerade 10\.244\.\d+\.\d+ → 192\.168\.10\.11 \(ip strata-nat\)/);
    const last = r.hops.at(-1);
    assert.deepEqual([last?.place, last?.action, last?.src], ["underlay", "deliver", "192.168.10.11"]);
  });

  test("bgp on l3: the router forwards by the BGP route (proto 147), no encapsulation", () => {
    const r = walk(load("bgp-l3"));
    assert.equal(r.delivered, true);
    assert.deepEqual(
      r.hops.map((h) => `${h.place}:${h.action}`),
      ["n1-p1:send", "n1:forward", "underlay:forward", "n2:forward", "n2-p1:deliver"],
    );
    assert.match(r.hops[2]?.decidedBy ?? "", /via 192\.168\.20\.12 dev sw-b proto 147/);
    assert.ok(r.hops.every((h) => !h.outer));
  });

  test("routeQuery asks with the input interface the kernel sees: a bridge port routes through its bridge", () => {
    const step = vx.steps[1] as Recorded["steps"][number];
    const q = routeQuery(step.pos, step.facts.links);
    assert.equal(q.iif, "cni0");
    assert.equal(q.from, src);
    const sent = vx.steps[0] as Recorded["steps"][number];
    assert.equal(routeQuery(sent.pos, sent.facts.links).iif, undefined);
  });

  test("SRC and DST must name something of the lab", () => {
    const places = new LabPlaces(vx.state);
    assert.equal(places.resolve("DST", "outside").ip, "203.0.113.10");
    assert.equal(places.resolve("SRC", "n2").place.kind, "node");
    assert.throws(() => places.resolve("DST", "n9-p1"), TraceTargetError);
    assert.throws(() => places.resolve("DST", "192.168.10.1"), /no pod, node or "outside"/);
  });
});

describe("parseRouteGet", () => {
  test("unicast, local, an unreachable type and the kernel's error", () => {
    assert.deepEqual(
      parseRouteGet(
        0,
        '[{"dst":"10.1.2.3","gateway":"10.1.0.1","dev":"eth0","prefsrc":"10.1.0.5","flags":[]}]',
        "",
      ),
      {
        ok: true,
        type: "unicast",
        dst: "10.1.2.3",
        dev: "eth0",
        gateway: "10.1.0.1",
        prefsrc: "10.1.0.5",
        flags: [],
      },
    );
    assert.equal(parseRouteGet(0, '[{"type":"local","dst":"10.1.0.5","dev":"lo","flags":[]}]', "").ok, true);
    assert.deepEqual(parseRouteGet(0, '[{"type":"blackhole","dst":"10.9.0.1","flags":[]}]', ""), {
      ok: false,
      error: "route type blackhole",
    });
    assert.deepEqual(parseRouteGet(2, "", "RTNETLINK answers: Network is unreachable\n"), {
      ok: false,
      error: "Network is unreachable",
    });
  });
});
