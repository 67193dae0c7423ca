import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { withNamespaces } from "../../../test/support/netns.js";
import { namedNetns, type Route } from "../api.js";
import { createIproute2Kernel } from "../iproute2/index.js";
import { applyPlan } from "./apply.js";
import { observe } from "./observe.js";
import { planReconcile } from "./plan.js";
import { planRouteChanges } from "./plan-routes.js";
import { strataRouteProto } from "./route-proto.js";
import { noDesiredState } from "./state.js";

const kernel = createIproute2Kernel();
const ip = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });

/** A namespace with eth0 (a bridge standing in for the underlay) on 192.168.50.1/24. */
function underlay(nss: { create(label: string): string }): string {
  const ns = nss.create("node");
  ip(ns, "link", "add", "eth0", "type", "bridge");
  ip(ns, "addr", "add", "192.168.50.1/24", "dev", "eth0");
  ip(ns, "link", "set", "eth0", "up");
  return ns;
}

describe("plan and apply in a real namespace", () => {
  test("a route the kernel refuses (next hop on no connected network) does not hold back the rest", async () => {
    await withNamespaces("dplan", async (nss) => {
      const ns = underlay(nss);
      const routes: Route[] = [
        { dst: "10.244.2.0/24", via: "192.168.50.2", dev: "eth0" },
        { dst: "10.244.3.0/24", via: "172.31.0.3", dev: "eth0" },
        { dst: "10.244.4.0/24", via: "192.168.50.4", dev: "eth0" },
      ];
      const desired = { ...noDesiredState, routes };
      const ops = planReconcile(desired, await observe(kernel, namedNetns(ns), desired));
      const r = await applyPlan(kernel, namedNetns(ns), ops);
      assert.equal(r.applied, 2);
      assert.deepEqual(
        r.failed.map((f) => (f.op.op === "route.replace" ? f.op.route.dst : f.op.op)),
        ["10.244.3.0/24"],
      );
      const table = ip(ns, "route", "show", "proto", strataRouteProto);
      assert.match(table, /10\.244\.2\.0\/24 via 192\.168\.50\.2/);
      assert.match(table, /10\.244\.4\.0\/24 via 192\.168\.50\.4/);
      // Planned again against what is there: only the refused route is tried again.
      const again = planReconcile(desired, await observe(kernel, namedNetns(ns), desired));
      assert.deepEqual(
        again.map((o) => (o.op === "route.replace" ? o.route.dst : o.op)),
        ["10.244.3.0/24"],
      );
    });
  });

  test("a removed destination goes only if the route is Strata's; someone else's route to it stays", async () => {
    await withNamespaces("dplan", async (nss) => {
      const ns = underlay(nss);
      ip(ns, "route", "add", "10.244.5.0/24", "via", "192.168.50.5", "proto", "static");
      ip(ns, "route", "add", "10.244.6.0/24", "via", "192.168.50.6", "proto", strataRouteProto);
      const ops = planRouteChanges(
        new Map([
          ["10.244.5.0/24", undefined],
          ["10.244.6.0/24", undefined],
        ]),
      );
      const r = await applyPlan(kernel, namedNetns(ns), ops);
      assert.deepEqual(r, { applied: 2, failed: [] });
      assert.match(ip(ns, "route", "show", "10.244.5.0/24"), /via 192\.168\.50\.5 .*proto static/);
      assert.equal(ip(ns, "route", "show", "10.244.6.0/24").trim(), "");
    });
  });

  test("observe reads neighbours of the desired devices that exist, and nothing of devices it does not own", async () => {
    await withNamespaces("dplan", async (nss) => {
      const ns = underlay(nss);
      ip(
        ns,
        "neigh",
        "replace",
        "192.168.50.9",
        "lladdr",
        "02:00:00:00:00:09",
        "dev",
        "eth0",
        "nud",
        "permanent",
      );
      const owned = { ...noDesiredState, devices: [{ kind: "bridge" as const, name: "eth0" }] };
      const o = await observe(kernel, namedNetns(ns), owned);
      assert.ok(o.neighbours.some((n) => n.ip === "192.168.50.9"));
      assert.ok(o.links.some((l) => l.name === "eth0" && l.kind === "bridge"));
      const routesOnly = await observe(kernel, namedNetns(ns), noDesiredState);
      assert.deepEqual([routesOnly.links, routesOnly.neighbours, routesOnly.fdb], [[], [], []]);
      assert.ok(routesOnly.routes.some((r) => r.dst === "192.168.50.0/24"));
    });
  });
});
