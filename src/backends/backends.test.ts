import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NodeLease } from "../cluster/node-lease.js";
import { vtepMac } from "../kernel/mac-address.js";
import type { LocalNode } from "./api.js";
import { createHostGwBackend } from "./host-gw/host-gw.js";
import { createVxlanBackend, vxlanDeviceName } from "./vxlan/vxlan.js";

const lease = (
  node: string,
  subnet: string,
  publicIp: string,
  data: Record<string, string> = {},
): NodeLease => ({
  node,
  subnet,
  publicIp,
  publicPrefix: 24,
  backend: "x",
  backendData: data,
});
const self: LocalNode = {
  lease: lease("n1", "10.244.1.0/24", "192.168.10.11"),
  underlayDev: "eth0",
  underlayMtu: 1500,
};
const sameL2 = lease("n2", "10.244.2.0/24", "192.168.10.12", { vtepMac: "02:00:00:00:00:02" });
const otherL2 = lease("n3", "10.244.3.0/24", "192.168.20.13", { vtepMac: "02:00:00:00:00:03" });

describe("host-gw backend", () => {
  test("routes each L2-adjacent peer's subnet via its underlay address and skips itself", () => {
    const d = createHostGwBackend().desired(self, [self.lease, sameL2]);
    assert.deepEqual(d.routes, [{ dst: "10.244.2.0/24", via: "192.168.10.12", dev: "eth0" }]);
    assert.deepEqual(d.unreachable, []);
  });

  test("reports a peer behind a router as unreachable instead of installing a black-hole route", () => {
    const d = createHostGwBackend().desired(self, [otherL2]);
    assert.deepEqual(d.routes, []);
    assert.equal(d.unreachable[0]?.node, "n3");
    assert.match(d.unreachable[0]?.reason ?? "", /shared L2 segment/);
  });

  test("pod MTU is the underlay MTU", () => assert.equal(createHostGwBackend().podMtu(1500), 1500));

  test("dual stack: each peer's subnet6 via its publicIp6 when that is on our IPv6 underlay network", () => {
    const six = (l: NodeLease, i: number): NodeLease => ({
      ...l,
      subnet6: `fd00:10:244:${i}::/64`,
      publicIp6: `fd00:192:168:10::${10 + i}`,
    });
    const local: LocalNode = { ...self, lease: six(self.lease, 1), underlayCidr6: "fd00:192:168:10::11/64" };
    const farAway = { ...six(lease("n4", "10.244.4.0/24", "192.168.10.14"), 4), publicIp6: "fd00:99::14" };
    const v4only = lease("n5", "10.244.5.0/24", "192.168.10.15");
    const d = createHostGwBackend().desired(local, [six(sameL2, 2), farAway, v4only]);
    assert.deepEqual(d.routes, [
      { dst: "10.244.2.0/24", via: "192.168.10.12", dev: "eth0" },
      { dst: "fd00:10:244:2::/64", via: "fd00:192:168:10::12", dev: "eth0" },
      { dst: "10.244.4.0/24", via: "192.168.10.14", dev: "eth0" },
      { dst: "10.244.5.0/24", via: "192.168.10.15", dev: "eth0" },
    ]);
    // An IPv4-only node (no IPv6 underlay) routes no IPv6.
    assert.deepEqual(
      createHostGwBackend()
        .desired(self, [six(sameL2, 2)])
        .routes.map((r) => r.dst),
      ["10.244.2.0/24"],
    );
  });
});

describe("vxlan backend", () => {
  const vx = createVxlanBackend({ vni: 1, port: 8472, directRouting: false, node: "n1" });

  test("one device per VNI named strata.<vni>, no learning, MTU = underlay - 50", () => {
    const d = vx.desired(self, [sameL2]);
    const dev = d.devices[0];
    assert.equal(dev?.name, vxlanDeviceName(1));
    assert.equal(dev?.name, "strata.1");
    if (dev?.kind !== "vxlan") throw new Error("not vxlan");
    assert.equal(dev.learning, false);
    assert.equal(dev.port, 8472);
    assert.equal(dev.mtu, 1450);
    assert.equal(vx.podMtu(9000), 8950);
    assert.deepEqual(d.addresses, [["strata.1", "10.244.1.0/32"]]);
  });

  test("static neighbour, FDB entry and onlink route per remote VTEP", () => {
    const d = vx.desired(self, [sameL2, otherL2]);
    assert.deepEqual(d.neighbours, [
      { dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02" },
      { dev: "strata.1", ip: "10.244.3.0", mac: "02:00:00:00:00:03" },
    ]);
    assert.deepEqual(d.fdb[1], {
      dev: "strata.1",
      mac: "02:00:00:00:00:03",
      dst: "192.168.20.13",
      self: true,
      permanent: true,
    });
    assert.deepEqual(d.routes[0], { dst: "10.244.2.0/24", via: "10.244.2.0", dev: "strata.1", onlink: true });
  });

  test("cross-subnet mode routes directly to L2 neighbours and encapsulates to the rest", () => {
    const cs = createVxlanBackend({ vni: 1, port: 4789, directRouting: true, node: "n1" });
    const d = cs.desired(self, [sameL2, otherL2]);
    assert.deepEqual(d.routes, [
      { dst: "10.244.2.0/24", via: "192.168.10.12", dev: "eth0" },
      { dst: "10.244.3.0/24", via: "10.244.3.0", dev: "strata.1", onlink: true },
    ]);
    assert.equal(d.fdb.length, 1);
  });

  test("VTEP MACs are stable per node and VNI, unicast and locally administered", () => {
    assert.equal(vtepMac("n1", 1), vtepMac("n1", 1));
    assert.notEqual(vtepMac("n1", 1), vtepMac("n2", 1));
    const first = Number.parseInt(vtepMac("n1", 1).slice(0, 2), 16);
    assert.equal(first & 1, 0);
    assert.equal(first & 2, 2);
  });
});
