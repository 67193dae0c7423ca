import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LinkSpec } from "../api.js";
import { planReconcile } from "./plan.js";
import { planDesiredChange } from "./plan-change.js";
import { strataRouteProto } from "./route-proto.js";
import type { DesiredState } from "./state.js";

const vtep: LinkSpec = {
  name: "strata.1",
  kind: "vxlan",
  vni: 1,
  port: 8472,
  dev: "eth0",
  local: "192.168.10.11",
  learning: false,
} as LinkSpec;
/** A vxlan node's desired state with these peers (n → 10.244.n.0/24 via VTEP 10.244.n.0). */
const vxlanWith = (peers: number[], mac = (n: number) => `aa:bb:cc:00:00:0${n}`): DesiredState => ({
  devices: [vtep],
  addresses: [["strata.1", "10.244.1.0/32"]],
  neighbours: peers.map((n) => ({ dev: "strata.1", ip: `10.244.${n}.0`, mac: mac(n) })),
  fdb: peers.map((n) => ({ dev: "strata.1", mac: mac(n), dst: `192.168.10.${10 + n}` })),
  routes: peers.map((n) => ({
    dst: `10.244.${n}.0/24`,
    via: `10.244.${n}.0`,
    dev: "strata.1",
    onlink: true,
  })),
});

describe("a lease change planned from the last applied state, without reading the kernel", () => {
  test("one peer more: its neighbour, FDB entry and route, nothing else", () => {
    assert.deepEqual(planDesiredChange(vxlanWith([2, 3]), vxlanWith([2, 3, 4])), [
      { op: "neigh.replace", dev: "strata.1", ip: "10.244.4.0", mac: "aa:bb:cc:00:00:04", permanent: true },
      { op: "fdb.append", entry: { dev: "strata.1", mac: "aa:bb:cc:00:00:04", dst: "192.168.10.14" } },
      {
        op: "route.replace",
        route: {
          dst: "10.244.4.0/24",
          via: "10.244.4.0",
          dev: "strata.1",
          onlink: true,
          proto: strataRouteProto,
        },
      },
    ]);
  });

  test("the same ops the full planner makes against a kernel that holds the applied state", () => {
    const applied = vxlanWith([2, 3, 5]);
    const next = vxlanWith([2, 3, 4], (n) => (n === 3 ? "aa:bb:cc:00:00:33" : `aa:bb:cc:00:00:0${n}`));
    const kernelAsApplied = {
      links: [],
      addresses: [],
      routes: applied.routes.map((r) => ({ ...r, proto: strataRouteProto })),
      neighbours: applied.neighbours.map((n) => ({ ...n, state: "PERMANENT" })),
      fdb: applied.fdb,
    };
    // The full planner with the device and its address taken as present and right.
    const full = planReconcile({ ...next, devices: [], addresses: [] }, kernelAsApplied);
    const change = planDesiredChange(applied, next) ?? [];
    const sortKey = (o: unknown) => JSON.stringify(o);
    // The full planner deletes neighbours and FDB entries only on devices it owns (none here):
    // the change plan's deletions are the extra ones: the removed peer's, and n3's old FDB entry (new MAC).
    const extra = change.filter((o) => !full.some((f) => sortKey(f) === sortKey(o)));
    assert.deepEqual(
      full.filter((f) => !change.some((o) => sortKey(o) === sortKey(f))),
      [],
      "every op of the full plan is in the change plan",
    );
    assert.deepEqual(extra, [
      { op: "neigh.delete", dev: "strata.1", ip: "10.244.5.0", ifPresent: true },
      {
        op: "fdb.delete",
        entry: { dev: "strata.1", mac: "aa:bb:cc:00:00:03", dst: "192.168.10.13" },
        ifPresent: true,
      },
      {
        op: "fdb.delete",
        entry: { dev: "strata.1", mac: "aa:bb:cc:00:00:05", dst: "192.168.10.15" },
        ifPresent: true,
      },
    ]);
    assert.ok(change.some((o) => o.op === "route.delete" && o.route.dst === "10.244.5.0/24"));
    assert.ok(change.some((o) => o.op === "neigh.replace" && o.mac === "aa:bb:cc:00:00:33"));
  });

  test("nothing changed: nothing to do", () => {
    assert.deepEqual(planDesiredChange(vxlanWith([2, 3]), vxlanWith([2, 3])), []);
  });

  test("a device or address that changes needs the kernel's view: no plan", () => {
    const applied = vxlanWith([2]);
    assert.equal(
      planDesiredChange(applied, { ...applied, devices: [{ ...vtep, mtu: 1400 } as LinkSpec] }),
      undefined,
    );
    assert.equal(planDesiredChange(applied, { ...applied, addresses: [] }), undefined);
  });
});
