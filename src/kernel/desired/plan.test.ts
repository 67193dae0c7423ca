import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Route } from "../api.js";
import { planReconcile } from "./plan.js";
import { missingRoutes } from "./plan-routes.js";
import { strataRouteProto } from "./route-proto.js";
import type { DesiredState, ObservedState } from "./state.js";

const empty: ObservedState = { links: [], addresses: [], routes: [], neighbours: [], fdb: [] };
const none: DesiredState = {
  devices: [],
  addresses: [],
  routes: [],
  neighbours: [],
  fdb: [],
};

describe("reconcile planner", () => {
  test("adds what is missing, tagging routes as Strata's", () => {
    const ops = planReconcile(
      { ...none, routes: [{ dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0" }] },
      empty,
    );
    assert.deepEqual(ops, [
      {
        op: "route.replace",
        route: { dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0", proto: strataRouteProto },
      },
    ]);
  });

  test("does nothing when the kernel already matches (restart does not disturb traffic)", () => {
    const route = { dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0", proto: strataRouteProto };
    assert.deepEqual(planReconcile({ ...none, routes: [route] }, { ...empty, routes: [route] }), []);
  });

  test("removes only its own stale routes, never others'", () => {
    const ops = planReconcile(none, {
      ...empty,
      routes: [
        { dst: "10.244.9.0/24", via: "192.168.1.9", dev: "eth0", proto: strataRouteProto },
        { dst: "default", via: "192.168.1.1", dev: "eth0", proto: "static" },
        { dst: "192.168.1.0/24", dev: "eth0", proto: "kernel" },
      ],
    });
    assert.equal(ops.length, 1);
    assert.equal(ops[0]?.op, "route.delete");
  });

  test("a peer that moved to a new address: its route is replaced in place, never deleted as well", () => {
    const old = { dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0", proto: strataRouteProto };
    const moved = { dst: "10.244.2.0/24", via: "192.168.1.22", dev: "eth0" };
    assert.deepEqual(planReconcile({ ...none, routes: [moved] }, { ...empty, routes: [old] }), [
      { op: "route.replace", route: { ...moved, proto: strataRouteProto } },
    ]);
  });

  test("missingRoutes names the desired routes the kernel lacks, whoever else's routes are there", () => {
    const want = [
      { dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0" },
      { dst: "10.244.3.0/24", via: "192.168.1.3", dev: "eth0" },
    ];
    const have = [
      { ...want[0], proto: strataRouteProto } as Route,
      { dst: "10.244.3.0/24", via: "192.168.1.99", dev: "eth0", proto: "static" },
    ];
    assert.deepEqual(missingRoutes(want, have), [want[1]]);
  });

  test("recreates a VXLAN device whose VNI changed; fixes MTU in place otherwise", () => {
    const spec = { kind: "vxlan" as const, name: "strata.1", vni: 1, port: 8472, learning: false, mtu: 1450 };
    const link = {
      index: 5,
      name: "strata.1",
      kind: "vxlan",
      mtu: 1500,
      up: true,
      operState: "UNKNOWN",
      vxlan: { vni: 1, port: 8472, learning: false },
    };
    assert.deepEqual(planReconcile({ ...none, devices: [spec] }, { ...empty, links: [link] }), [
      { op: "link.set", name: "strata.1", mtu: 1450 },
    ]);
    const ops = planReconcile(
      { ...none, devices: [spec] },
      { ...empty, links: [{ ...link, vxlan: { vni: 2, port: 8472, learning: false } }] },
    );
    assert.deepEqual(
      ops.map((o) => o.op),
      ["link.delete", "link.add", "link.set"],
    );
  });

  test("replaces a neighbour whose MAC changed and removes neighbours of departed peers", () => {
    const ops = planReconcile(
      { ...none, devices: [], neighbours: [{ dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:22" }] },
      {
        ...empty,
        links: [],
        neighbours: [
          { dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02", state: "PERMANENT" },
          { dev: "strata.1", ip: "10.244.3.0", mac: "02:00:00:00:00:03", state: "PERMANENT" },
        ],
      },
    );
    assert.deepEqual(ops[0], {
      op: "neigh.replace",
      dev: "strata.1",
      ip: "10.244.2.0",
      mac: "02:00:00:00:00:22",
      permanent: true,
    });
    // strata.1 is not among desired devices here, so its neighbours are not Strata's to delete.
    assert.equal(ops.length, 1);
  });
});
