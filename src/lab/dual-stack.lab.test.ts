import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { runChecks } from "./check.js";
import { labNodeIp6 } from "./ip-family.js";
import { labDown, labUp } from "./runner.js";
import { runLabTrace } from "./trace/run-trace.js";

const kernel = createIproute2Kernel();

describe("the lab, dual stack (--ip-family dual)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("bgp, 3 nodes: every node leases an IPv6 subnet, every check passes with the IPv6 ones counted, IPv6 pod routes are BGP's (proto 147) via the owner's IPv6 address", async () => {
    const spec = labSpec({ model: "bgp", nodes: 3, podsPerNode: 2, ipFamily: "dual" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    const six = state.nodes.map((n) => n.subnet6 ?? "");
    assert.ok(
      six.every((s) => /^fd00:10:244:[0-9a-f]+::\/64$/.test(s)),
      six.join(" "),
    );
    assert.equal(new Set(six).size, 3);
    assert.ok(
      state.pods.every((p) => p.ip6?.startsWith("fd00:10:244:")),
      "every pod has an IPv6 address",
    );
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // From each node's first pod: the 5 other pods' IPv6 addresses, 2 full-size probes, its
    // node's IPv6 address and the IPv6 outside address (masqueraded).
    const ipv6 = results.filter((r) => r.kind.includes("IPv6"));
    assert.equal(ipv6.length, 3 * (5 + 2 + 2), ipv6.map((r) => `${r.kind} ${r.to}`).join("\n"));
    const [n1, n2] = state.nodes;
    const route = execFileSync("ip", ["-n", n1?.ns ?? "", "-6", "route", "show", n2?.subnet6 ?? ""], {
      encoding: "utf8",
    });
    assert.match(route, new RegExp(`via ${labNodeIp6({ name: n2?.name ?? "" })} dev eth0 proto (147|bgp)`));
    await labDown(kernel);
  });

  test("host-gw, 2 nodes: each routes the other's IPv6 pod subnet directly, and the IPv6 checks pass", async () => {
    const spec = labSpec({ model: "host-gw", nodes: 2, podsPerNode: 1, ipFamily: "dual" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    assert.equal(results.filter((r) => r.kind.includes("IPv6")).length, 2 * (2 + 2));
    const [n1, n2] = state.nodes;
    const route = execFileSync("ip", ["-n", n1?.ns ?? "", "-6", "route", "show", n2?.subnet6 ?? ""], {
      encoding: "utf8",
    });
    assert.match(route, new RegExp(`via ${labNodeIp6({ name: n2?.name ?? "" })} dev eth0 proto 147`));
    await labDown(kernel);
  });

  test("bgp on l3, 3 nodes: the router passes IPv6 routes on with its own address on each segment, every check passes", async () => {
    const spec = labSpec({ model: "bgp", underlay: "l3", nodes: 3, podsPerNode: 1, ipFamily: "dual" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // From each node's pod: the 2 other pods, 2 full-size probes, its node, the outside.
    assert.equal(results.filter((r) => r.kind.includes("IPv6")).length, 3 * (2 + 2 + 2));
    // n1 (segment a) reaches n2 (segment b) through the router: via the router's address on a.
    const [n1, n2, n3] = state.nodes;
    const route6 = (from: string, dst: string) =>
      execFileSync("ip", ["-n", from, "-6", "route", "show", dst], { encoding: "utf8" });
    assert.match(route6(n1?.ns ?? "", n2?.subnet6 ?? ""), /via fd00:192:168:10::1 dev eth0 proto (147|bgp)/);
    assert.match(route6(n2?.ns ?? "", n1?.subnet6 ?? ""), /via fd00:192:168:20::1 dev eth0 proto (147|bgp)/);
    assert.match(route6(n2?.ns ?? "", n3?.subnet6 ?? ""), /via fd00:192:168:20::1 dev eth0 proto (147|bgp)/);
    // lab trace: a pod's name takes the family of the address given for the other end.
    const to6 = state.pods.find((p) => p.node === "n2")?.ip6 ?? "";
    const trace6 = await runLabTrace(kernel, state, { src: "n1-p1", dst: to6 });
    assert.equal(trace6.packet.src, state.pods.find((p) => p.name === "n1-p1")?.ip6);
    assert.equal(trace6.delivered, true, JSON.stringify(trace6.stop));
    assert.ok(
      trace6.hops.every((h) => h.seen),
      "every IPv6 hop seen",
    );
    await labDown(kernel);
  });
});
