import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { withNamespaces } from "../../../test/support/netns.js";
import { namedNetns } from "../../kernel/api.js";
import { strataRouteProto } from "../../kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { LearnedRoutesInKernel, type RouteProblem } from "./learned-routes-in-kernel.js";

const ip = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
const strataRoutes = (ns: string) =>
  ip(ns, "route", "show", "proto", strataRouteProto)
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.trim())
    .sort();

/** A router-like namespace: eth0 on 192.168.10.1/24, eth1 on 192.168.20.1/24. */
function router(nss: { create(label: string): string }): string {
  const ns = nss.create("rtr");
  for (const [dev, cidr] of [
    ["eth0", "192.168.10.1/24"],
    ["eth1", "192.168.20.1/24"],
  ] as const) {
    ip(ns, "link", "add", dev, "type", "bridge");
    ip(ns, "addr", "add", cidr, "dev", dev);
    ip(ns, "link", "set", dev, "up");
  }
  return ns;
}

test("bgp-speaker --install-routes: learned routes are planned against the namespace's proto 147 routes", async () => {
  await withNamespaces("learned", async (nss) => {
    const ns = router(nss);
    // Left by an earlier run (no longer learned), and someone else's route.
    ip(ns, "route", "add", "10.244.9.0/24", "via", "192.168.10.9", "proto", strataRouteProto);
    ip(ns, "route", "add", "10.250.0.0/16", "via", "192.168.10.254", "proto", "static");
    const problems: RouteProblem[] = [];
    const w = new LearnedRoutesInKernel(createIproute2Kernel(), namedNetns(ns), {
      onProblem: (p) => problems.push(p),
    });
    await w.update([
      { prefix: "10.244.1.0/24", nextHop: "192.168.10.11" },
      { prefix: "10.244.2.0/24", nextHop: "192.168.20.12" },
      { prefix: "10.244.3.0/24", nextHop: "172.16.0.3" },
    ]);
    assert.deepEqual(strataRoutes(ns), [
      "10.244.1.0/24 via 192.168.10.11 dev eth0",
      "10.244.2.0/24 via 192.168.20.12 dev eth1",
    ]);
    assert.match(ip(ns, "route", "show", "10.250.0.0/16"), /proto static/, "someone else's route stays");
    assert.deepEqual(
      problems.map((p) => p.prefix),
      ["10.244.3.0/24"],
      "the bad next hop is reported and holds back nothing",
    );
    // A withdrawal removes the route; a moved next hop replaces it in place.
    await w.update([{ prefix: "10.244.1.0/24" }, { prefix: "10.244.2.0/24", nextHop: "192.168.20.22" }]);
    assert.deepEqual(strataRoutes(ns), ["10.244.2.0/24 via 192.168.20.22 dev eth1"]);
    // Deleted by hand: the next pass puts it back.
    ip(ns, "route", "del", "10.244.2.0/24");
    await w.update([]);
    assert.deepEqual(strataRoutes(ns), ["10.244.2.0/24 via 192.168.20.22 dev eth1"]);
    assert.equal(problems.length, 1, "a problem is reported once, not on every pass");
  });
});

test("bgp-speaker --install-routes --route-dev: only next hops on that device's networks", async () => {
  await withNamespaces("learned", async (nss) => {
    const ns = router(nss);
    const problems: RouteProblem[] = [];
    const w = new LearnedRoutesInKernel(createIproute2Kernel(), namedNetns(ns), {
      dev: "eth1",
      onProblem: (p) => problems.push(p),
    });
    await w.update([
      { prefix: "10.244.1.0/24", nextHop: "192.168.10.11" },
      { prefix: "10.244.2.0/24", nextHop: "192.168.20.12" },
    ]);
    assert.deepEqual(strataRoutes(ns), ["10.244.2.0/24 via 192.168.20.12 dev eth1"]);
    assert.deepEqual(
      problems.map((p) => p.prefix),
      ["10.244.1.0/24"],
    );
  });
});
