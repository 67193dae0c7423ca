import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { labDoctor } from "../doctor/lab-doctor.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { runChecks } from "./check.js";
import { labNodeIp6 } from "./ip-family.js";
import { labDown, labUp } from "./runner.js";
import { runLabTrace } from "./trace/run-trace.js";

const kernel = createIproute2Kernel();

describe("the lab, IPv6-only (--ip-family ipv6)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("bgp, 3 nodes: each leases an IPv6 /64 alone, pods are IPv6-only, every check passes (all of them IPv6), routes are BGP's via the owner's IPv6 address", async () => {
    const spec = labSpec({ model: "bgp", nodes: 3, podsPerNode: 2, ipFamily: "ipv6" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    const subnets = state.nodes.map((n) => n.subnet ?? "");
    assert.ok(
      subnets.every((s) => /^fd00:10:244:[0-9a-f]+::\/64$/.test(s)),
      subnets.join(" "),
    );
    assert.equal(new Set(subnets).size, 3);
    assert.ok(
      state.nodes.every((n) => n.subnet6 === undefined),
      "no second subnet",
    );
    assert.ok(
      state.pods.every((p) => p.ip === "" && p.ip6?.startsWith("fd00:10:244:")),
      "every pod has an IPv6 address and no IPv4 one",
    );
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // From each node's first pod: the 5 other pods, 2 full-size probes, its node, the outside.
    const ipv6 = results.filter((r) => r.kind.includes("IPv6"));
    assert.equal(ipv6.length, 3 * (5 + 2 + 2), ipv6.map((r) => `${r.kind} ${r.to}`).join("\n"));
    const spoof = results.find((r) => r.kind === "spoofed source dropped");
    assert.ok(spoof?.ok && spoof.to.includes(":"), `an IPv6 spoofing probe: ${JSON.stringify(spoof)}`);
    assert.deepEqual(
      results.filter((r) => ["same node", "cross node", "pod→node", "MTU (DF, full size)"].includes(r.kind)),
      [],
      "no IPv4 probe: pods have no IPv4 address",
    );
    const [n1, n2] = state.nodes;
    const route = execFileSync("ip", ["-n", n1?.ns ?? "", "-6", "route", "show", n2?.subnet ?? ""], {
      encoding: "utf8",
    });
    assert.match(route, new RegExp(`via ${labNodeIp6({ name: n2?.name ?? "" })} dev eth0 proto (147|bgp)`));
    const v4 = execFileSync("ip", ["-n", n1?.ns ?? "", "-4", "route", "show", "proto", "147"], {
      encoding: "utf8",
    });
    assert.equal(v4.trim(), "", "no IPv4 pod route");

    // lab doctor reads the IPv6-only node as it is: IPv6 routes, sessions from the IPv6 address,
    // DF probes sized for IPv6's 40-byte header (each was a false alarm before).
    const doctor = await labDoctor(kernel, state, labPaths());
    const bad = [...doctor.nodes.flatMap((n) => n.verdicts), ...doctor.lab].filter((v) => !v.ok);
    assert.deepEqual(bad, [], "lab doctor finds nothing wrong");
    const texts = doctor.nodes.flatMap((n) => n.verdicts.map((v) => v.text));
    for (const line of [
      "routes to 2 peer subnets present",
      "2 BGP sessions Established",
      "DF probes pass to 2 peers (underlay 1500 B)",
    ])
      assert.equal(texts.filter((t) => t === line).length, 3, `${line}\n${texts.join("\n")}`);
    // lab trace follows an IPv6 packet: predicted from each kernel, proven by an ICMPv6 probe.
    const across = await runLabTrace(kernel, state, { src: "n1-p1", dst: "n2-p1" });
    assert.equal(across.packet.dst, state.pods.find((p) => p.name === "n2-p1")?.ip6);
    assert.equal(across.packet.size, 104, "ping's default over IPv6");
    assert.deepEqual(
      across.hops.map((h) => `${h.place} ${h.action} ${h.seen ? "seen" : "unseen"}`),
      ["n1-p1 send seen", "n1 forward seen", "underlay switch seen", "n2 forward seen", "n2-p1 deliver seen"],
    );
    assert.equal(across.delivered, true);
    assert.match(
      across.hops[1]?.decidedBy ?? "",
      /route fd00:10:244:[0-9a-f]+::\/64 via fd00:192:168:10::12 dev eth0 proto 147/,
    );
    const outside = await runLabTrace(kernel, state, { src: "n1-p1", dst: "outside", proto: "udp" });
    assert.equal(outside.delivered, true, JSON.stringify(outside.stop));
    assert.match(
      outside.hops[1]?.decidedBy ?? "",
      /masquerade fd00:10:244:[0-9a-f:]+ → fd00:192:168:10::11 \(ip6 strata-nat\)/,
    );
    const forged = await runLabTrace(kernel, state, {
      src: "n1-p1",
      dst: "n2-p1",
      srcIp: "fd00:10:244:ff::9",
    });
    assert.equal(forged.delivered, false);
    assert.equal(forged.stop?.kind, "spoofed-source");
    const counter = forged.stop?.kind === "spoofed-source" ? forged.stop.counter : undefined;
    assert.ok(
      counter && counter.after > counter.before,
      `the IPv6 drop counter rose: ${JSON.stringify(counter)}`,
    );
    await labDown(kernel);
  });

  test("host-gw, 2 nodes: each routes the other's IPv6 subnet directly; the checks pass", async () => {
    const spec = labSpec({ model: "host-gw", nodes: 2, podsPerNode: 1, ipFamily: "ipv6" });
    const state = await labUp(kernel, spec, labPaths(), quietProgress);
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    assert.equal(results.filter((r) => r.kind.includes("IPv6")).length, 2 * (2 + 2));
    const [n1, n2] = state.nodes;
    const route = execFileSync("ip", ["-n", n1?.ns ?? "", "-6", "route", "show", n2?.subnet ?? ""], {
      encoding: "utf8",
    });
    assert.match(route, new RegExp(`via ${labNodeIp6({ name: n2?.name ?? "" })} dev eth0 proto 147`));
    await labDown(kernel);
  });
});
