import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { labDoctor } from "../doctor/lab-doctor.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { runChecks } from "./check.js";
import { labNodeGateway6, labNodeIp6 } from "./ip-family.js";
import { labDown, labUp } from "./runner.js";
import { labNodeSegment, underlayNs } from "./topology.js";
import { runLabTrace } from "./trace/run-trace.js";

const kernel = createIproute2Kernel();
const ip = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });

describe("the lab, IPv6-only through the l3 router (--ip-family ipv6 --underlay l3)", {
  concurrency: 1,
}, () => {
  after(() => labDown(kernel));

  test("bgp, 4 nodes on 2 segments: the router peers with every node over IPv6, holds each node's /64 via that node, passes it on with its own address on each segment; every check, trace and doctor pass", async () => {
    const spec = labSpec({ model: "bgp", underlay: "l3", nodes: 4, podsPerNode: 1, ipFamily: "ipv6" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    // Odd nodes on segment a, even ones on b (behind the router).
    const placed = (n: { readonly name: string }) => ({
      name: n.name,
      segment: labNodeSegment(spec, n.name),
    });
    assert.deepEqual(
      state.nodes.map((n) => placed(n).segment),
      ["a", "b", "a", "b"],
    );
    assert.ok(
      state.nodes.every((n) => /^fd00:10:244:[0-9a-f]+::\/64$/.test(n.subnet ?? "") && !n.subnet6),
      "each node leases one IPv6 /64 alone",
    );
    assert.ok(
      state.pods.every((p) => p.ip === "" && p.ip6?.startsWith("fd00:10:244:")),
      "pods are IPv6-only",
    );

    // The router's sessions, as its kernel sees them: one per node, both ends IPv6 (the router's
    // address on the node's segment, the node's own IPv6 address).
    const sessions = execFileSync(
      "ip",
      ["netns", "exec", underlayNs, "ss", "-Htn", "state", "established", "( sport = :179 or dport = :179 )"],
      { encoding: "utf8" },
    )
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [local = "", peer = ""] = line.trim().split(/\s+/).slice(-2);
        return `${local.replace(/^\[(.*)\]:\d+$/, "$1")} ${peer.replace(/^\[(.*)\]:\d+$/, "$1")}`;
      })
      .sort();
    assert.deepEqual(
      sessions,
      state.nodes.map((n) => `${labNodeGateway6(placed(n))} ${labNodeIp6(placed(n))}`).sort(),
      "the router's BGP sessions are over IPv6, one per node",
    );
    // The router holds each node's subnet, via that node's IPv6 address.
    for (const n of state.nodes)
      assert.match(
        ip(underlayNs, "-6", "route", "show", n.subnet ?? "-"),
        new RegExp(`via ${labNodeIp6(placed(n))} dev sw-${placed(n).segment} proto (147|bgp)`),
        `the router's route to ${n.name}'s pods`,
      );
    // Each node reaches every other node's pods through the router's address on its own segment.
    for (const from of state.nodes)
      for (const to of state.nodes.filter((x) => x !== from))
        assert.match(
          ip(from.ns, "-6", "route", "show", to.subnet ?? "-"),
          new RegExp(`via ${labNodeGateway6(placed(from))} dev eth0 proto (147|bgp)`),
          `${from.name}'s route to ${to.name}'s pods`,
        );
    assert.equal(
      ip(state.nodes[0]?.ns ?? "", "-4", "route", "show", "proto", "147").trim(),
      "",
      "no IPv4 pod route",
    );

    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // From each node's pod: the 3 other pods (2 across the router), 3 full-size DF probes, its node, the outside.
    const ipv6 = results.filter((r) => r.kind.includes("IPv6"));
    assert.equal(ipv6.length, 4 * (3 + 3 + 2), ipv6.map((r) => `${r.kind} ${r.to}`).join("\n"));
    assert.deepEqual(
      results.filter((r) => ["same node", "cross node", "pod→node", "MTU (DF, full size)"].includes(r.kind)),
      [],
      "no IPv4 probe: pods have no IPv4 address",
    );

    // lab trace across the router: n1 (segment a) to n2's pod (segment b), every hop seen.
    const across = await runLabTrace(kernel, state, { src: "n1-p1", dst: "n2-p1" });
    assert.deepEqual(
      across.hops.map((h) => `${h.place} ${h.action} ${h.seen ? "seen" : "unseen"}`),
      [
        "n1-p1 send seen",
        "n1 forward seen",
        "underlay forward seen",
        "n2 forward seen",
        "n2-p1 deliver seen",
      ],
    );
    assert.equal(across.delivered, true);
    assert.match(
      across.hops[2]?.decidedBy ?? "",
      /route fd00:10:244:[0-9a-f]+::\/64 via fd00:192:168:20::12 dev sw-b proto (147|bgp)/,
    );

    const doctor = await labDoctor(kernel, state, labPaths());
    const bad = [...doctor.nodes.flatMap((n) => n.verdicts), ...doctor.lab].filter((v) => !v.ok);
    assert.deepEqual(bad, [], "lab doctor finds nothing wrong");
    const texts = doctor.nodes.flatMap((n) => n.verdicts.map((v) => v.text));
    assert.ok(texts.includes("1 BGP session Established"), texts.join("\n"));
    assert.ok(texts.includes("routes to 3 peer subnets present"), texts.join("\n"));
    await labDown(kernel);
  });
});
