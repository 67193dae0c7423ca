import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { explainMissingRoute, proveHops, verdict } from "./explain.js";
import { parseProbeOutput } from "./prove.js";
import { minProbeSize, TraceRequestError, tracePacket } from "./run-trace.js";
import { explainStop, type StopReason } from "./stop-reasons.js";
import type { PredictedHop, Sighting, TracePacket } from "./trace-model.js";

const packet: TracePacket = { src: "10.244.1.2", dst: "10.244.2.2", proto: "icmp", size: 84 };
const outer = {
  kind: "vxlan",
  src: "192.168.10.11",
  dst: "192.168.10.12",
  port: 8472,
  vni: 1,
  overhead: 50,
} as const;
const hop = (o: Partial<PredictedHop>): PredictedHop => ({
  ns: "ns",
  place: "p",
  action: "forward",
  src: packet.src,
  dst: packet.dst,
  decidedBy: "",
  captureDevs: [],
  ...o,
});
const seen = (o: Partial<Sighting>): Sighting => ({
  ns: "ns",
  dev: "eth0",
  outgoing: false,
  src: packet.src,
  dst: packet.dst,
  atUs: 1,
  ...o,
});

describe("proven path (pure)", () => {
  const predicted = [
    hop({ ns: "pod", action: "send", outDev: "eth0", captureDevs: ["eth0"] }),
    hop({
      ns: "n1",
      action: "encapsulate",
      inDev: "veth1",
      outDev: "strata.1",
      outer,
      captureDevs: ["veth1", "strata.1"],
    }),
    hop({ ns: "n1", action: "send", outDev: "eth0", outer, captureDevs: ["eth0"] }),
    hop({ ns: "n2", action: "decapsulate", inDev: "eth0", outer, captureDevs: ["eth0"] }),
  ];

  test("a hop is seen by the probe on its own devices; an underlay hop only encapsulated, others only bare", () => {
    const hops = proveHops(
      predicted,
      [
        seen({ ns: "pod", dev: "eth0", outgoing: true }),
        seen({ ns: "n1", dev: "veth1" }),
        // The bare packet on n1's eth0 does not prove the encapsulated send.
        seen({ ns: "n1", dev: "eth0" }),
        seen({ ns: "n2", dev: "eth0", outer: { src: outer.src, dst: outer.dst, port: 8472, vni: 1 } }),
      ],
      packet,
    );
    assert.deepEqual(
      hops.map((h) => h.seen),
      [true, true, false, true],
    );
  });

  test("a reply (addressed to the source) proves nothing", () => {
    const hops = proveHops(
      predicted,
      [seen({ ns: "pod", dev: "eth0", src: packet.dst, dst: packet.src })],
      packet,
    );
    assert.equal(hops[0]?.seen, false);
  });

  test("verdict: delivered; the predicted stop; a refused send; lost after the last hop seen", () => {
    const proven = proveHops(predicted, [seen({ ns: "pod", dev: "eth0" })], packet);
    assert.deepEqual(verdict(proven, true, "pod"), { delivered: true });
    assert.deepEqual(verdict(proven, false, "pod", "EMSGSIZE: Message too long"), {
      delivered: false,
      stop: { kind: "send-refused", ns: "pod", error: "EMSGSIZE: Message too long" },
    });
    assert.deepEqual(verdict(proven, false, "pod"), {
      delivered: false,
      stop: { kind: "lost", afterNs: "pod", afterDev: "eth0" },
    });
    const stop: StopReason = { kind: "fdb-missing", ns: "n1", dev: "strata.1", mac: "02:00:00:00:00:01" };
    const stopped = proveHops(
      [predicted[0] as PredictedHop, hop({ ns: "n1", action: "stop", stop })],
      [],
      packet,
    );
    assert.deepEqual(verdict(stopped, false, "pod", "ignored"), { delivered: false, stop });
  });

  test("the probe's output: send error, sightings and the time it took", () => {
    const out = parseProbeOutput(
      'noise\n{"error":"EMSGSIZE: Message too long","sightings":[{"ns":"a","dev":"eth0","outgoing":true,"src":"1.1.1.1","dst":"2.2.2.2","atUs":5}],"doneAtUs":300}\n',
    );
    assert.equal(out.sendError, "EMSGSIZE: Message too long");
    assert.equal(out.sightings.length, 1);
    assert.equal(out.doneAtUs, 300);
  });
});

describe("a missing route, explained by the control plane (pure)", () => {
  const missing: StopReason = {
    kind: "pod-route-missing",
    node: "n1",
    subnet: "10.244.2.0/24",
    owner: "n2",
    took: "route default",
  };
  const owner = { node: "n2", subnet: "10.244.2.0/24", ip: "192.168.10.12" };
  const sessions = (...s: { peer: string; state: string }[]) => ({ backend: { bgpSessions: s } });

  test("bgp: the sender's session to the owner is not Established", () => {
    const r = explainMissingRoute(missing, {
      model: "bgp",
      underlay: "l2",
      owner: { ...owner, health: sessions() },
      sender: {
        node: "n1",
        health: sessions(
          { peer: "192.168.10.13", state: "Established" },
          { peer: "192.168.10.12", state: "Active" },
        ),
      },
    });
    assert.deepEqual(r, {
      kind: "bgp-session-down",
      node: "n1",
      peer: "192.168.10.12",
      state: "Active",
      subnet: "10.244.2.0/24",
    });
  });

  test("bgp on l3: the owner's session to the router is down (the stop is on the router)", () => {
    const noRoute: StopReason = {
      kind: "no-route",
      ns: "underlay",
      dst: "10.244.2.2",
      kernelSays: "Network is unreachable",
    };
    const ownerDown = { ...owner, health: sessions({ peer: "192.168.20.1", state: "Connect" }) };
    const r = explainMissingRoute(noRoute, { model: "bgp", underlay: "l3", owner: ownerDown });
    assert.equal(
      r.kind === "bgp-session-down" && `${r.node} ${r.peer} ${r.state}`,
      "n2 192.168.20.1 Connect",
    );
    // On l2 the owner's sessions say nothing about another node's route (its agent may be stopped).
    assert.deepEqual(
      explainMissingRoute(missing, { model: "bgp", underlay: "l2", owner: ownerDown }),
      missing,
    );
  });

  test("the owner lost its lease; every session up or another model: the stop stays as it is", () => {
    const lost = explainMissingRoute(missing, {
      model: "vxlan",
      underlay: "l2",
      owner: { ...owner, health: { ownership: "lease gone from the datastore" } },
    });
    assert.equal(lost.kind, "lease-expired");
    assert.deepEqual(
      explainMissingRoute(missing, {
        model: "bgp",
        underlay: "l3",
        owner: { ...owner, health: sessions({ peer: "x", state: "Established" }) },
      }),
      missing,
    );
    assert.deepEqual(explainMissingRoute(missing, { model: "vxlan", underlay: "l2", owner }), missing);
  });
});

describe("stop reasons and requests", () => {
  test("every reason says what happened and what to fix, with its facts", () => {
    const reasons: StopReason[] = [
      { kind: "no-route", ns: "a", dst: "10.0.0.1", kernelSays: "Network is unreachable" },
      { kind: "pod-route-missing", node: "n1", subnet: "10.244.2.0/24", owner: "n2", took: "route default" },
      { kind: "neighbour-incomplete", ns: "a", dev: "eth0", ip: "10.0.0.1", state: "FAILED" },
      { kind: "vtep-neighbour-missing", ns: "a", dev: "strata.1", ip: "10.244.2.0" },
      { kind: "fdb-missing", ns: "a", dev: "strata.1", mac: "02:00:00:00:00:01" },
      {
        kind: "spoofed-source",
        ns: "a",
        port: "veth1",
        src: "10.0.0.9",
        allowed: ["10.0.0.2"],
        counter: { before: 3, after: 4 },
      },
      { kind: "mtu-exceeded", ns: "a", dev: "p-n1", packetBytes: 1500, mtu: 1400 },
      { kind: "link-down", ns: "a", dev: "eth0" },
      {
        kind: "bgp-session-down",
        node: "n1",
        peer: "192.168.10.12",
        state: "Active",
        subnet: "10.244.2.0/24",
      },
      { kind: "lease-expired", node: "n2", subnet: "10.244.2.0/24", detail: "expired" },
      { kind: "next-hop-unknown", ns: "a", ip: "10.9.9.9" },
      { kind: "send-refused", ns: "a", error: "EMSGSIZE" },
      { kind: "lost", afterNs: "a", afterDev: "eth0" },
    ];
    for (const r of reasons) {
      const e = explainStop(r);
      assert.ok(e.text.length > 10 && e.fix.length > 5, r.kind);
    }
    assert.match(explainStop(reasons[6] as StopReason).text, /1500-byte .*\(MTU 1400\)/);
    assert.match(explainStop(reasons[5] as StopReason).text, /counter 3 → 4/);
    assert.match(explainStop(reasons[8] as StopReason).text, /192\.168\.10\.12 is Active, not Established/);
  });

  test("a request is checked: protocol, size, port", () => {
    assert.deepEqual(tracePacket({ src: "a", dst: "b", proto: "udp" }, "10.0.0.1", "10.0.0.2"), {
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "udp",
      size: 84,
      port: 5201,
    });
    assert.throws(
      () => tracePacket({ src: "a", dst: "b", size: minProbeSize - 1 }, "x", "y"),
      TraceRequestError,
    );
    assert.throws(
      () => tracePacket({ src: "a", dst: "b", port: 80 }, "x", "y"),
      /--port needs --proto tcp or udp/,
    );
    assert.throws(
      () => tracePacket({ src: "a", dst: "b", proto: "sctp" as "tcp" }, "x", "y"),
      /"sctp" is not icmp, tcp or udp/,
    );
  });

  test("an IPv6 request: ping's 104-byte default, IPv6's larger minimum, and one family end to end", () => {
    assert.deepEqual(tracePacket({ src: "a", dst: "b" }, "fd00:10:244:1::2", "fd00:10:244:2::2"), {
      src: "fd00:10:244:1::2",
      dst: "fd00:10:244:2::2",
      proto: "icmp",
      size: 104,
    });
    assert.equal(tracePacket({ src: "a", dst: "b" }, "10.244.1.2", "10.244.2.2").size, 84);
    assert.throws(
      () => tracePacket({ src: "a", dst: "b", size: 84 }, "fd00::1", "fd00::2"),
      /--size: 84 must be an IP packet size from 88 to 65535 bytes \(IPv6\)/,
    );
    assert.throws(
      () => tracePacket({ src: "a", dst: "b" }, "10.244.1.2", "fd00:10:244:2::2"),
      /one is IPv4, the other IPv6/,
    );
  });
});
