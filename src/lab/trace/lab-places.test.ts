import assert from "node:assert/strict";
import { test } from "node:test";
import type { LabState } from "../state.js";
import { LabPlaces, TraceTargetError } from "./lab-places.js";
import { predictStep } from "./predict-step.js";
import type { NsFacts, Position } from "./trace-model.js";

/** The state file of an IPv6-only (or dual-stack) bgp lab on l3: n1 on segment a, n2 on b. */
const labState = (ipFamily: "ipv6" | "dual"): LabState =>
  ({
    spec: {
      model: "bgp",
      nodes: 2,
      podsPerNode: 1,
      underlay: "l3",
      datastore: "embedded",
      clusterCidr: "10.244.0.0/16",
      underlayMtu: 1500,
      ipFamily,
    },
    complete: true,
    nodes: [1, 2].map((i) => ({
      name: `n${i}`,
      ns: `strata-lab-n${i}`,
      ip: `192.168.${i === 1 ? 10 : 20}.${10 + i}`,
      ...(ipFamily === "ipv6"
        ? { subnet: `fd00:10:244:${i}::/64` }
        : { subnet: `10.244.${i}.0/24`, subnet6: `fd00:10:244:${i}::/64` }),
      podMtu: 1500,
      pid: 0,
    })),
    pods: [1, 2].map((i) => ({
      name: `n${i}-p1`,
      ns: `strata-lab-n${i}-p1`,
      node: `n${i}`,
      ip: ipFamily === "ipv6" ? "" : `10.244.${i}.2`,
      ip6: `fd00:10:244:${i}::2`,
    })),
    processes: [],
  }) as unknown as LabState;

test("IPv6-only lab: names resolve to IPv6 addresses (pods, nodes on their segment, the outside), and every IPv6 address has its namespace", () => {
  const places = new LabPlaces(labState("ipv6"));
  assert.equal(places.resolve("SRC", "n1-p1").ip, "fd00:10:244:1::2");
  assert.equal(places.resolve("DST", "n2").ip, "fd00:192:168:20::12", "n2 is on segment b");
  assert.equal(places.resolve("DST", "outside").ip, "2001:db8::10");
  // An address written long-hand is the one the kernel prints.
  assert.equal(places.resolve("DST", "fd00:10:244:2:0:0:0:2").place.name, "n2-p1");
  assert.equal(places.owner("fd00:10:244:1::1")?.name, "n1", "the pod gateway on cni0");
  assert.equal(places.owner("fd00:192:168:20::1")?.kind, "underlay", "the router on segment b");
  assert.deepEqual(places.subnetOwner("fd00:10:244:2::7"), { node: "n2", subnet: "fd00:10:244:2::/64" });
  assert.equal(places.subnetOwner("10.244.2.7"), undefined, "no IPv4 pod subnet");
  assert.throws(() => places.resolve("DST", "fd00:10:244:9::2"), TraceTargetError);
});

test("dual-stack lab: names resolve to IPv4, with the IPv6 address beside it; both families' subnets have owners", () => {
  const places = new LabPlaces(labState("dual"));
  assert.deepEqual(places.resolve("SRC", "n1-p1"), {
    place: { ns: "strata-lab-n1-p1", name: "n1-p1", kind: "pod", node: "n1" },
    ip: "10.244.1.2",
    ip6: "fd00:10:244:1::2",
  });
  assert.equal(places.resolve("DST", "fd00:10:244:2::2").place.name, "n2-p1");
  assert.deepEqual(places.subnetOwner("10.244.2.7"), { node: "n2", subnet: "10.244.2.0/24" });
  assert.deepEqual(places.subnetOwner("fd00:10:244:2::7"), { node: "n2", subnet: "fd00:10:244:2::/64" });
});

test("the source guard on a pod's port checks an IPv6 source against its @v6 set; the pod's own address and link-local ones pass", () => {
  const places = new LabPlaces(labState("ipv6"));
  const veth = {
    index: 4,
    name: "veth1",
    kind: "veth",
    mtu: 1500,
    up: true,
    operState: "UP",
    master: "cni0",
  };
  const facts: NsFacts = {
    ns: "strata-lab-n1",
    route: {
      ok: true,
      type: "unicast",
      dst: "fd00:10:244:2::2",
      dev: "eth0",
      gateway: "fd00:192:168:10::1",
      flags: [],
    },
    links: [veth],
    neighbours: [],
    fdb: [],
    guard: { ports: ["veth1"], v4: {}, v6: { veth1: ["fd00:10:244:1::2"] } },
  };
  const arriving = (src: string): Position => ({
    ns: "strata-lab-n1",
    arrivedOn: "veth1",
    packet: { src, dst: "fd00:10:244:2::2", proto: "icmp", size: 104 },
  });
  const forged = predictStep(arriving("fd00:10:244:1::99"), facts, places).hops[0];
  assert.equal(forged?.stop?.kind, "spoofed-source");
  assert.match(forged?.decidedBy ?? "", /veth1 \. fd00:10:244:1::99 not in @v6 → drop/);
  for (const src of ["fd00:10:244:1::2", "fe80::1"])
    assert.notEqual(predictStep(arriving(src), facts, places).hops[0]?.stop?.kind, "spoofed-source", src);
});
