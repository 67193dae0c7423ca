import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Route } from "../api.js";
import { planRouteChanges, planRoutes } from "./plan-routes.js";
import { strataRouteProto } from "./route-proto.js";
import { DesiredRoutes } from "./route-set.js";

const r2: Route = { dst: "10.244.2.0/24", via: "192.168.1.2", dev: "eth0" };
const r3: Route = { dst: "10.244.3.0/24", via: "192.168.1.3", dev: "eth0" };

describe("route planning", () => {
  test("planRoutes: a desired route the kernel has under another protocol is left as it is", () => {
    assert.deepEqual(planRoutes([r2], [{ ...r2, proto: "static" }]), []);
  });

  test("planRoutes: IPv6 routes are planned like IPv4 ones", () => {
    const v6 = { dst: "2001:db8:2::/64", via: "2001:db8::2", dev: "eth0" };
    const stale = { dst: "2001:db8:9::/64", via: "2001:db8::9", dev: "eth0", proto: strataRouteProto };
    assert.deepEqual(planRoutes([v6], [stale]), [
      { op: "route.replace", route: { ...v6, proto: strataRouteProto } },
      { op: "route.delete", route: stale, ifPresent: true },
    ]);
  });

  test("planRouteChanges: a changed destination is replaced, a removed one deleted only as Strata's", () => {
    const ops = planRouteChanges(
      new Map<string, Route | undefined>([
        [r2.dst, r2],
        ["10.244.9.0/24", undefined],
        ["2001:db8:9::/64", undefined],
      ]),
    );
    assert.deepEqual(ops, [
      { op: "route.replace", route: { ...r2, proto: strataRouteProto } },
      {
        op: "route.delete",
        route: { dst: "10.244.9.0/24", proto: strataRouteProto, family: 4 },
        ifPresent: true,
      },
      {
        op: "route.delete",
        route: { dst: "2001:db8:9::/64", proto: strataRouteProto, family: 6 },
        ifPresent: true,
      },
    ]);
  });
});

describe("a desired route set fed by changes", () => {
  test("hands on only what changed since it was last asked", () => {
    const set = new DesiredRoutes();
    set.set(r2);
    set.set(r3);
    assert.deepEqual([...set.takeChanges().keys()], [r2.dst, r3.dst]);
    assert.equal(set.takeChanges().size, 0, "nothing changed since");
    set.set({ ...r2 });
    assert.equal(set.takeChanges().size, 0, "the same route again is no change");
    set.set({ ...r2, via: "192.168.1.22" });
    set.delete(r3.dst);
    set.delete("10.244.7.0/24");
    assert.deepEqual(
      set.takeChanges(),
      new Map([
        [r2.dst, { ...r2, via: "192.168.1.22" }],
        [r3.dst, undefined],
      ]),
    );
    assert.deepEqual(set.list(), [{ ...r2, via: "192.168.1.22" }]);
  });

  test("a route set and removed again before anyone asked is handed on as removed", () => {
    const set = new DesiredRoutes();
    set.set(r2);
    set.delete(r2.dst);
    assert.deepEqual(set.takeChanges(), new Map([[r2.dst, undefined]]));
    assert.equal(set.size, 0);
  });

  test("0.0.0.0/0 and default are one destination", () => {
    const set = new DesiredRoutes();
    set.set({ dst: "0.0.0.0/0", via: "192.168.1.1" });
    set.set({ dst: "default", via: "192.168.1.254" });
    assert.equal(set.size, 1);
    assert.equal(set.get("0.0.0.0/0")?.via, "192.168.1.254");
  });
});
