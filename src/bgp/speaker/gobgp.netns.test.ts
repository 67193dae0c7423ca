import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  GoBgp,
  kernelRoute,
  lan,
  lastRoute,
  linkedPair,
  startStrataClient,
  startStrataSpeaker,
} from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

const gobgpConf = (
  asn: number,
  routerId: string,
  neighbors: { address: string; asn: number; rrClusterId?: string }[],
) => `[global.config]
  as = ${asn}
  router-id = "${routerId}"
  local-address-list = ["${routerId}"]
[global.apply-policy.config]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
${neighbors
  .map(
    (n) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${n.address}"
    peer-as = ${n.asn}
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
${
  n.rrClusterId
    ? `  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "${n.rrClusterId}"
`
    : ""
}`,
  )
  .join("")}`;

/** Strata's speaker against real GoBGP daemons (Debian gobgpd), each side in its own namespace. */
describe("BGP with GoBGP", { skip: !hasCommands("gobgpd", "gobgp") && "gobgpd not installed" }, () => {
  const nss = new TestNamespaces("gobgp");
  const dir = mkdtempSync(join(tmpdir(), "strata-gobgp-"));
  const procs: ChildProcess[] = [];
  const daemons: GoBgp[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const d of daemons) d.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const gobgp = async (ns: string, name: string, toml: string) => {
    const d = new GoBgp(ns, dir, name, toml);
    daemons.push(d);
    await d.start();
    return d;
  };

  test("eBGP: Established, routes both ways, withdrawals and a GoBGP restart", async () => {
    const [a, s] = linkedPair(nss, ["ebgp-g", "ebgp-s"], ["192.168.61.1", "192.168.61.2"]);
    const conf = gobgpConf(65001, "192.168.61.1", [{ address: "192.168.61.2", asn: 65002 }]);
    const g = await gobgp(a, "ebgp", conf);
    g.cli("global", "rib", "add", "10.244.5.0/24", "nexthop", "192.168.61.1");
    const { proc, events } = startStrataSpeaker(s, [
      ...["--asn", "65002", "--router-id", "192.168.61.2", "--hold", "9", "--connect-retry", "1"],
      ...["--peer", "192.168.61.1,as=65001", "--announce", "10.244.8.0/24", "--install-routes"],
    ]);
    procs.push(proc);
    await eventually(() => lastRoute(events, "10.244.5.0/24") !== undefined, "GoBGP's route learned");
    const got = lastRoute(events, "10.244.5.0/24");
    assert.equal(got?.nextHop, "192.168.61.1");
    assert.deepEqual(got?.attributes?.asPath, [{ type: "sequence", asns: [65001] }]);
    await eventually(
      () => /via 192\.168\.61\.1 .*proto 147/.test(kernelRoute(s, "10.244.5.0/24")),
      "in the kernel",
    );
    await eventually(
      () => /10\.244\.8\.0\/24\s+192\.168\.61\.2\s+65002/.test(g.cli("global", "rib")),
      "GoBGP has ours, next hop and AS_PATH right",
    );
    assert.match(g.cli("neighbor"), /Establ/);

    g.cli("global", "rib", "del", "10.244.5.0/24");
    await eventually(() => kernelRoute(s, "10.244.5.0/24") === "", "withdrawal removes the kernel route");

    g.kill();
    await eventually(() => events.some((e) => e.event === "down"), "peer loss seen", { timeoutMs: 20_000 });
    await g.start();
    g.cli("global", "rib", "add", "10.244.5.0/24", "nexthop", "192.168.61.1");
    await eventually(() => kernelRoute(s, "10.244.5.0/24") !== "", "route back after the restart", {
      timeoutMs: 20_000,
    });
    await eventually(() => /10\.244\.8\.0\/24/.test(g.cli("global", "rib")), "GoBGP has ours again");
  });

  test("Strata as route reflector for two GoBGP clients", async () => {
    const [rr, c1, c2] = lan(nss, ["rr-s", "rr-c1", "rr-c2"], "192.168.64");
    const { proc, events } = startStrataSpeaker(rr.ns, [
      ...["--asn", "64512", "--router-id", rr.ip, "--cluster-id", rr.ip, "--listen", "179", "--hold", "9"],
      ...[
        "--connect-retry",
        "1",
        "--peer",
        `${c1.ip},as=64512,rr-client`,
        "--peer",
        `${c2.ip},as=64512,rr-client`,
      ],
    ]);
    procs.push(proc);
    const g1 = await gobgp(c1.ns, "c1", gobgpConf(64512, c1.ip, [{ address: rr.ip, asn: 64512 }]));
    const g2 = await gobgp(c2.ns, "c2", gobgpConf(64512, c2.ip, [{ address: rr.ip, asn: 64512 }]));
    g1.cli("global", "rib", "add", "10.244.6.0/24", "nexthop", c1.ip);
    await eventually(() => events.filter((e) => e.event === "established").length >= 2, "both clients up");
    await eventually(() => g2.cli("global", "rib").includes("10.244.6.0/24"), "reflected to c2");
    const row = g2.cli("global", "rib", "10.244.6.0/24");
    assert.match(row, new RegExp(`10\\.244\\.6\\.0/24\\s+${c1.ip.replaceAll(".", "\\.")}`), "NEXT_HOP kept");
    assert.match(row, new RegExp(`Originator: ${c1.ip.replaceAll(".", "\\.")}`));
    assert.match(row, new RegExp(`ClusterList: \\[${rr.ip.replaceAll(".", "\\.")}\\]`));
    g1.cli("global", "rib", "del", "10.244.6.0/24");
    await eventually(() => !g2.cli("global", "rib").includes("10.244.6.0/24"), "withdrawal reflected");
  });

  test("Strata as a client of a GoBGP route reflector", async () => {
    const [rr, s1, s2] = lan(nss, ["cl-rr", "cl-s1", "cl-s2"], "192.168.65");
    await gobgp(
      rr.ns,
      "rr",
      gobgpConf(
        64512,
        rr.ip,
        [s1, s2].map((s) => ({ address: s.ip, asn: 64512, rrClusterId: rr.ip })),
      ),
    );
    const one = startStrataClient(s1, rr.ip, "10.244.7.0/24");
    const two = startStrataClient(s2, rr.ip, "10.244.10.0/24");
    procs.push(one.proc, two.proc);
    await eventually(() => lastRoute(two.events, "10.244.7.0/24") !== undefined, "s1's route reaches s2", {
      timeoutMs: 20_000,
    });
    const got = lastRoute(two.events, "10.244.7.0/24");
    assert.equal(got?.nextHop, s1.ip);
    assert.equal(got?.attributes?.originatorId, s1.ip);
    assert.deepEqual(got?.attributes?.clusterList, [rr.ip]);
    await eventually(() => kernelRoute(s2.ns, "10.244.7.0/24").includes(`via ${s1.ip}`), "in s2's kernel");
    await eventually(() => lastRoute(one.events, "10.244.10.0/24") !== undefined, "and the other way");
    one.proc.kill("SIGKILL");
    await eventually(() => kernelRoute(s2.ns, "10.244.7.0/24") === "", "s1 gone: withdrawn through the RR", {
      timeoutMs: 20_000,
    });
  });
});
