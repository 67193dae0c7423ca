import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  Bird,
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

const birdBgp = (name: string, local: string, asn: number, peer: string, peerAs: number, extra = "") => `
protocol bgp ${name} {
  local ${local} as ${asn};
  neighbor ${peer} as ${peerAs};
  direct;
  hold time 9;
  connect retry time 1;
  ${extra}
  ipv4 { import all; export all; gateway direct; };
}
`;

/** Strata's speaker against real BIRD 2 daemons (Debian bird2), each side in its own namespace. */
describe("BGP with BIRD 2", { skip: !hasCommands("bird") && "bird2 not installed" }, () => {
  const nss = new TestNamespaces("bird");
  const dir = mkdtempSync(join(tmpdir(), "strata-bird-"));
  const procs: ChildProcess[] = [];
  const birds: Bird[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const b of birds) b.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const bird = (ns: string, name: string, routerId: string, body: string) => {
    const b = new Bird(ns, dir, name, `router id ${routerId};\nprotocol device {}\n${body}`);
    birds.push(b);
    b.start();
    return b;
  };

  test("eBGP: Established, routes both ways with the right attributes, withdrawals and a BIRD restart", async () => {
    const [a, s] = linkedPair(nss, ["ebgp-b", "ebgp-s"], ["192.168.60.1", "192.168.60.2"]);
    const b = bird(
      a,
      "ebgp",
      "192.168.60.1",
      `protocol static static1 { ipv4; route 10.244.1.0/24 blackhole; }
${birdBgp("strata", "192.168.60.1", 65001, "192.168.60.2", 65002)}`,
    );
    const { proc, events } = startStrataSpeaker(s, [
      ...["--asn", "65002", "--router-id", "192.168.60.2", "--hold", "9", "--connect-retry", "1"],
      ...["--peer", "192.168.60.1,as=65001", "--announce", "10.244.9.0/24", "--install-routes"],
    ]);
    procs.push(proc);
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "BIRD's route learned");
    const got = lastRoute(events, "10.244.1.0/24");
    assert.equal(got?.nextHop, "192.168.60.1");
    assert.deepEqual(got?.attributes?.asPath, [{ type: "sequence", asns: [65001] }]);
    await eventually(
      () => /via 192\.168\.60\.1 .*proto 147/.test(kernelRoute(s, "10.244.1.0/24")),
      "in the kernel",
    );
    await eventually(() => /AS65002i/.test(b.birdc("show", "route")), "BIRD has ours");
    assert.match(b.birdc("show", "route", "all", "10.244.9.0/24"), /BGP\.next_hop: 192\.168\.60\.2/);
    assert.match(b.birdc("show", "protocols", "strata"), /Established/);

    b.birdc("disable", "static1");
    await eventually(() => kernelRoute(s, "10.244.1.0/24") === "", "withdrawal removes the kernel route");
    b.birdc("enable", "static1");
    await eventually(() => kernelRoute(s, "10.244.1.0/24") !== "", "announced again");

    b.kill();
    await eventually(() => events.some((e) => e.event === "down"), "peer loss seen");
    // BIRD on its default ("graceful restart aware"): its routes leave at once.
    await eventually(() => kernelRoute(s, "10.244.1.0/24") === "", "routes of a lost peer leave the kernel");
    b.start();
    await eventually(() => events.filter((e) => e.event === "established").length === 2, "session again", {
      timeoutMs: 20_000,
    });
    await eventually(() => kernelRoute(s, "10.244.1.0/24") !== "", "route back after the restart");
    await eventually(() => /AS65002i/.test(b.birdc("show", "route")), "BIRD has ours again");
  });

  test("Strata as route reflector for two BIRD clients", async () => {
    const [rr, c1, c2] = lan(nss, ["rr-s", "rr-c1", "rr-c2"], "192.168.62");
    const { proc, events } = startStrataSpeaker(rr.ns, [
      ...["--asn", "64512", "--router-id", rr.ip, "--cluster-id", rr.ip, "--listen", "179"],
      ...["--peer", `${c1.ip},as=64512,rr-client`, "--peer", `${c2.ip},as=64512,rr-client`, "--hold", "9"],
    ]);
    procs.push(proc);
    const client = (m: { ns: string; ip: string }, name: string, prefix: string) =>
      bird(
        m.ns,
        name,
        m.ip,
        `protocol static static1 { ipv4; route ${prefix} blackhole; }
${birdBgp("reflector", m.ip, 64512, rr.ip, 64512)}`,
      );
    const b1 = client(c1, "c1", "10.244.2.0/24");
    const b2 = client(c2, "c2", "10.244.3.0/24");
    await eventually(() => events.filter((e) => e.event === "established").length === 2, "both clients up");
    await eventually(() => /10\.244\.2\.0\/24/.test(b2.birdc("show", "route")), "reflected to c2");
    const all = b2.birdc("show", "route", "all", "10.244.2.0/24");
    assert.match(all, /BGP\.originator_id: 192\.168\.62\.2/);
    assert.match(all, /BGP\.cluster_list: 192\.168\.62\.1/);
    assert.match(all, /BGP\.next_hop: 192\.168\.62\.2/, "a reflector leaves NEXT_HOP alone");
    await eventually(() => /10\.244\.3\.0\/24/.test(b1.birdc("show", "route")), "reflected to c1");
    b1.birdc("disable", "static1");
    await eventually(() => !/10\.244\.2\.0\/24/.test(b2.birdc("show", "route")), "withdrawal reflected");
  });

  test("Strata as a client of a BIRD route reflector", async () => {
    const [rr, s1, s2] = lan(nss, ["cl-rr", "cl-s1", "cl-s2"], "192.168.63");
    bird(
      rr.ns,
      "rr",
      rr.ip,
      [s1, s2]
        .map((s, i) => birdBgp(`s${i + 1}`, rr.ip, 64512, s.ip, 64512, `rr client; rr cluster id ${rr.ip};`))
        .join("\n"),
    );
    // s1 stops for good below: --withdraw-on-stop (by default a stop keeps its routes with BIRD, a graceful-restart helper).
    const one = startStrataClient(s1, rr.ip, "10.244.4.0/24", ["--withdraw-on-stop"]);
    const two = startStrataClient(s2, rr.ip, "10.244.5.0/24");
    procs.push(one.proc, two.proc);
    await eventually(() => lastRoute(two.events, "10.244.4.0/24") !== undefined, "s1's route reaches s2");
    const got = lastRoute(two.events, "10.244.4.0/24");
    assert.equal(got?.nextHop, s1.ip);
    assert.equal(got?.attributes?.originatorId, s1.ip);
    assert.deepEqual(got?.attributes?.clusterList, [rr.ip]);
    await eventually(() => kernelRoute(s2.ns, "10.244.4.0/24").includes(`via ${s1.ip}`), "in s2's kernel");
    await eventually(() => lastRoute(one.events, "10.244.5.0/24") !== undefined, "and the other way");
    // Stopped for good (Cease): a kill -9, or a plain SIGTERM, would leave its route with BIRD for its restart time.
    one.proc.kill("SIGTERM");
    await eventually(() => kernelRoute(s2.ns, "10.244.4.0/24") === "", "s1 gone: withdrawn through the RR", {
      timeoutMs: 20_000,
    });
  });
});
