import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  kernelRoute,
  lan,
  lastRoute,
  linkedPair,
  startStrataClient,
  startStrataSpeaker,
} from "../../../test/support/bgp.js";
import { Frr, hasFrr } from "../../../test/support/frr.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

interface Neighbor {
  readonly address: string;
  readonly asn: number;
  readonly families?: readonly ("ipv4" | "ipv6")[];
  readonly rrClient?: boolean;
  /** Lines in `router bgp` for this neighbour (e.g. dont-capability-negotiate). */
  readonly extra?: readonly string[];
  /** Per family: a route-map applied to what goes out to it. */
  readonly out?: Partial<Record<"ipv4" | "ipv6", string>>;
}

/** An FRR bgpd configuration: quick timers, no policy needed for eBGP, networks announced as written. */
function frrConf(o: {
  asn: number;
  routerId: string;
  neighbors: readonly Neighbor[];
  networks?: Partial<Record<"ipv4" | "ipv6", readonly string[]>>;
  clusterId?: string;
  routeMaps?: string;
}): string {
  const af = (family: "ipv4" | "ipv6") => [
    ` address-family ${family} unicast`,
    ...(o.networks?.[family] ?? []).map((n) => `  network ${n}`),
    ...o.neighbors
      .filter((n) => (n.families ?? ["ipv4"]).includes(family))
      .flatMap((n) => [
        `  neighbor ${n.address} activate`,
        ...(n.rrClient ? [`  neighbor ${n.address} route-reflector-client`] : []),
        ...(n.out?.[family] ? [`  neighbor ${n.address} route-map ${n.out[family]} out`] : []),
      ]),
    " exit-address-family",
  ];
  return [
    "frr defaults traditional",
    o.routeMaps ?? "",
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
    " no bgp default ipv4-unicast",
    ...(o.clusterId ? [` bgp cluster-id ${o.clusterId}`] : []),
    " timers bgp 3 9",
    ...o.neighbors.flatMap((n) => [
      ` neighbor ${n.address} remote-as ${n.asn}`,
      ` neighbor ${n.address} timers connect 1`,
      ` neighbor ${n.address} advertisement-interval 0`,
      ...(n.extra ?? []).map((l) => ` neighbor ${n.address} ${l}`),
    ]),
    ...af("ipv4"),
    ...af("ipv6"),
    "",
  ].join("\n");
}

const strataArgs = (asn: number, routerId: string, ...rest: string[]) => [
  ...["--asn", String(asn), "--router-id", routerId, "--hold", "9", "--connect-retry", "1"],
  ...rest,
];
const ip6 = (ns: string, addr: string) =>
  execFileSync("ip", ["-n", ns, "addr", "add", addr, "dev", "eth0", "nodad"]);

/**
 * Strata's speaker against real FRR (Debian frr, bgpd alone without zebra), each side in its own
 * namespace: the RFC points FRR 8.4 found wrong, checked in FRR's own table.
 */
describe("BGP with FRR", { skip: !hasFrr() && "frr not installed" }, () => {
  const nss = new TestNamespaces("frr");
  const dir = mkdtempSync(join(tmpdir(), "strata-frr-"));
  const procs: ChildProcess[] = [];
  const daemons: Frr[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const d of daemons) d.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const frr = async (ns: string, name: string, conf: string) => {
    const d = new Frr(ns, dir, name, conf);
    daemons.push(d);
    await d.start();
    return d;
  };
  const strata = (ns: string, args: string[]) => {
    const s = startStrataSpeaker(ns, args);
    procs.push(s.proc);
    return s;
  };

  test("eBGP both ways: a MED from one AS does not reach another, no IPv6 to a peer without it, a NEXT_HOP of ours is ignored", async () => {
    const [f1, s, f3] = lan(nss, ["eb-f1", "eb-s", "eb-f3"], "192.168.80");
    const one = await frr(
      f1.ns,
      "eb-f1",
      frrConf({
        asn: 65001,
        routerId: f1.ip,
        neighbors: [{ address: s.ip, asn: 65002 }],
        networks: { ipv4: ["10.244.1.0/24 route-map MED50"] },
        routeMaps: "route-map MED50 permit 10\n set metric 50\n",
      }),
    );
    const three = await frr(
      f3.ns,
      "eb-f3",
      frrConf({
        asn: 65003,
        routerId: f3.ip,
        neighbors: [{ address: s.ip, asn: 65002, out: { ipv4: "OURS" } }],
        networks: { ipv4: ["10.244.3.0/24"] },
        // The route to Strata names Strata itself as next hop (RFC 4271 §6.3: ignored).
        routeMaps: `route-map OURS permit 10\n set ip next-hop ${s.ip}\n`,
      }),
    );
    const { events } = strata(
      s.ns,
      strataArgs(
        65002,
        s.ip,
        ...["--peer", `${f1.ip},as=65001`, "--peer", `${f3.ip},as=65003`],
        ...["--announce", "10.244.9.0/24,fd00:244:9::/64", "--next-hop", `${s.ip},fd00:80::2`],
      ),
    );
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "FRR's route learned");
    assert.equal(lastRoute(events, "10.244.1.0/24")?.attributes?.med, 50, "MED as FRR sent it");
    await eventually(() => three.paths("ipv4", "10.244.1.0/24").length > 0, "passed on to AS 65003");
    const passed = three.detail("ipv4", "10.244.1.0/24");
    assert.equal(passed?.aspath?.string, "65002 65001");
    assert.equal(passed?.metric, undefined, "RFC 4271 §5.1.4: no MED from AS 65001 in AS 65003");
    await eventually(() => one.paths("ipv4", "10.244.9.0/24").length > 0, "ours reached FRR");
    const ours = one.paths("ipv4", "10.244.9.0/24")[0];
    assert.equal(ours?.path, "65002");
    assert.equal(ours?.nexthops?.[0]?.ip, s.ip);
    // Neither FRR negotiated IPv6 unicast: no IPv6 UPDATE reached them (RFC 4760).
    assert.equal(one.paths("ipv6", "fd00:244:9::/64").length, 0);
    assert.doesNotMatch(one.logText() + three.logText(), /non-enabled AFI\/SAFI/);
    assert.ok(events.some((e) => e.event === "unsendable") === false);
    // f3's route with Strata's own address as NEXT_HOP: logged, counted, not used, no reset.
    await eventually(
      () => events.some((e) => e.event === "update-error" && /own address/.test(e.reason ?? "")),
      "the bad NEXT_HOP is reported",
    );
    assert.equal(lastRoute(events, "10.244.3.0/24"), undefined);
    assert.equal(events.filter((e) => e.event === "down").length, 0);
    assert.equal(three.state(s.ip), "Established");
  });

  test("Strata as route reflector for FRR clients (MED kept inside the AS)", async () => {
    const [rr, c1, c2] = lan(nss, ["rr-s", "rr-c1", "rr-c2"], "192.168.82");
    const { events } = strata(
      rr.ns,
      strataArgs(64512, rr.ip, "--cluster-id", rr.ip, "--listen", "179").concat(
        ...["--peer", `${c1.ip},as=64512,rr-client`, "--peer", `${c2.ip},as=64512,rr-client`],
      ),
    );
    const client = (m: { ns: string; ip: string }, name: string, prefix: string) =>
      frr(
        m.ns,
        name,
        frrConf({
          asn: 64512,
          routerId: m.ip,
          neighbors: [{ address: rr.ip, asn: 64512 }],
          networks: { ipv4: [`${prefix} route-map MED50`] },
          routeMaps: "route-map MED50 permit 10\n set metric 50\n",
        }),
      );
    const one = await client(c1, "rr-c1", "10.244.2.0/24");
    const two = await client(c2, "rr-c2", "10.244.3.0/24");
    await eventually(() => events.filter((e) => e.event === "established").length === 2, "both clients up");
    await eventually(() => two.paths("ipv4", "10.244.2.0/24").length > 0, "reflected to c2");
    const got = two.detail("ipv4", "10.244.2.0/24");
    assert.equal(got?.originatorId, c1.ip);
    assert.deepEqual(got?.clusterList?.list, [rr.ip]);
    assert.equal(got?.metric, 50, "MED stays inside the AS");
    assert.equal(got?.nexthops?.[0]?.ip, c1.ip, "a reflector leaves NEXT_HOP alone");
    await eventually(() => one.paths("ipv4", "10.244.3.0/24").length > 0, "reflected to c1");
  });

  test("Strata as a client of an FRR route reflector", async () => {
    const [rr, s1, s2] = lan(nss, ["cl-rr", "cl-s1", "cl-s2"], "192.168.83");
    await frr(
      rr.ns,
      "cl-rr",
      frrConf({
        asn: 64512,
        routerId: rr.ip,
        clusterId: rr.ip,
        neighbors: [s1, s2].map((s) => ({ address: s.ip, asn: 64512, rrClient: true })),
      }),
    );
    const one = startStrataClient(s1, rr.ip, "10.244.4.0/24");
    const two = startStrataClient(s2, rr.ip, "10.244.5.0/24");
    procs.push(one.proc, two.proc);
    await eventually(() => lastRoute(two.events, "10.244.4.0/24") !== undefined, "s1's route reaches s2");
    const got = lastRoute(two.events, "10.244.4.0/24");
    assert.equal(got?.nextHop, s1.ip);
    assert.equal(got?.attributes?.originatorId, s1.ip);
    assert.deepEqual(got?.attributes?.clusterList, [rr.ip]);
    await eventually(() => kernelRoute(s2.ns, "10.244.4.0/24").includes(`via ${s1.ip}`), "in s2's kernel");
    await eventually(() => lastRoute(one.events, "10.244.5.0/24") !== undefined, "and the other way");
  });

  test("IPv6 routes over an IPv4 session, both ways", async () => {
    const [f, s] = linkedPair(nss, ["v6o4-f", "v6o4-s"], ["192.168.84.1", "192.168.84.2"]);
    ip6(f, "fd00:84::1/64");
    ip6(s, "fd00:84::2/64");
    const d = await frr(
      f,
      "v6o4-f",
      frrConf({
        asn: 65001,
        routerId: "192.168.84.1",
        neighbors: [
          { address: "192.168.84.2", asn: 65002, families: ["ipv4", "ipv6"], out: { ipv6: "NH6" } },
        ],
        networks: { ipv4: ["10.244.1.0/24"], ipv6: ["fd00:244:1::/64"] },
        // Without zebra FRR knows no interface address to use as the IPv6 next hop.
        routeMaps: "route-map NH6 permit 10\n set ipv6 next-hop global fd00:84::1\n",
      }),
    );
    const { events } = strata(
      s,
      strataArgs(
        65002,
        "192.168.84.2",
        ...["--peer", "192.168.84.1,as=65001", "--next-hop", "192.168.84.2,fd00:84::2"],
        ...["--announce", "10.244.9.0/24,fd00:244:9::/64"],
      ),
    );
    await eventually(() => lastRoute(events, "fd00:244:1::/64") !== undefined, "FRR's IPv6 route learned");

    assert.equal(lastRoute(events, "fd00:244:1::/64")?.nextHop, "fd00:84::1");
    await eventually(() => d.paths("ipv6", "fd00:244:9::/64").length > 0, "ours reached FRR");
    assert.equal(d.paths("ipv6", "fd00:244:9::/64")[0]?.nexthops?.[0]?.ip, "fd00:84::2");
    assert.equal(d.paths("ipv4", "10.244.9.0/24")[0]?.nexthops?.[0]?.ip, "192.168.84.2");
  });

  test("IPv4 and IPv6 routes over an IPv6 session: IPv4 goes with an IPv4 NEXT_HOP, the session stays", async () => {
    const [f, s] = linkedPair(nss, ["v6t-f", "v6t-s"], ["192.168.85.1", "192.168.85.2"]);
    ip6(f, "fd00:85::1/64");
    ip6(s, "fd00:85::2/64");
    const d = await frr(
      f,
      "v6t-f",
      frrConf({
        asn: 65001,
        routerId: "192.168.85.1",
        neighbors: [
          {
            address: "fd00:85::2",
            asn: 65002,
            families: ["ipv4", "ipv6"],
            out: { ipv4: "NH4", ipv6: "NH6" },
          },
        ],
        networks: { ipv4: ["10.244.1.0/24"], ipv6: ["fd00:244:1::/64"] },
        routeMaps:
          "route-map NH4 permit 10\n set ip next-hop 192.168.85.1\nroute-map NH6 permit 10\n set ipv6 next-hop global fd00:85::1\n",
      }),
    );
    const { events } = strata(
      s,
      strataArgs(
        65002,
        "192.168.85.2",
        ...["--peer", "fd00:85::1,as=65001", "--next-hop", "192.168.85.2", "--ipv6"],
        ...["--announce", "10.244.9.0/24,fd00:244:9::/64"],
      ),
    );
    await eventually(() => d.paths("ipv4", "10.244.9.0/24").length > 0, "our IPv4 route reached FRR");
    assert.equal(d.paths("ipv4", "10.244.9.0/24")[0]?.nexthops?.[0]?.ip, "192.168.85.2");
    await eventually(() => d.paths("ipv6", "fd00:244:9::/64").length > 0, "our IPv6 route reached FRR");
    assert.equal(d.paths("ipv6", "fd00:244:9::/64")[0]?.nexthops?.[0]?.ip, "fd00:85::2");
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "FRR's IPv4 route learned");
    assert.equal(lastRoute(events, "10.244.1.0/24")?.nextHop, "192.168.85.1");
    await eventually(() => lastRoute(events, "fd00:244:1::/64") !== undefined, "FRR's IPv6 route learned");
    assert.equal(lastRoute(events, "fd00:244:1::/64")?.nextHop, "fd00:85::1");
    // No NOTIFICATION 3/10 and no flap: one session from start to end.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(events.filter((e) => e.event === "established").length, 1);
    assert.equal(events.filter((e) => e.event === "down").length, 0);
    assert.equal(d.state("fd00:85::2"), "Established");
  });

  test("a 2-octet-AS FRR peer: AS_TRANS with an AS4_PATH out, AS_PATH and AS4_PATH merged in", async () => {
    const [f, s] = linkedPair(nss, ["as2-f", "as2-s"], ["192.168.86.1", "192.168.86.2"]);
    const d = await frr(
      f,
      "as2-f",
      frrConf({
        asn: 65001,
        routerId: "192.168.86.1",
        // No capabilities in FRR's OPEN: to Strata it is an OLD speaker (RFC 6793).
        neighbors: [{ address: "192.168.86.2", asn: 4200000002, extra: ["dont-capability-negotiate"] }],
        networks: { ipv4: ["10.244.1.0/24 route-map WIDE"] },
        // FRR's as4 debugging logs the AS4_PATH it receives.
        routeMaps:
          "debug bgp as4\ndebug bgp as4 segment\nroute-map WIDE permit 10\n set as-path prepend 4200000009\n",
      }),
    );
    const { events } = strata(
      s,
      strataArgs(
        4200000002,
        "192.168.86.2",
        "--peer",
        "192.168.86.1,as=65001",
        "--announce",
        "10.244.9.0/24",
      ),
    );
    await eventually(() => d.paths("ipv4", "10.244.9.0/24").length > 0, "ours reached FRR");
    // AS_PATH on the session is 2-octet with AS_TRANS, and an AS4_PATH went beside it. FRR 8.4
    // does not fold it in: it saw our 4-octet capability ("AS4 capable peer"), which RFC 6793
    // has every NEW speaker send, and dont-capability-negotiate only silences its own.
    assert.equal(d.paths("ipv4", "10.244.9.0/24")[0]?.path, "23456");
    await eventually(
      () => /192\.168\.86\.2 AS4 capable peer, yet it sent AS4_PATH/.test(d.logText()),
      "FRR received an AS4_PATH from Strata",
    );
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "FRR's route learned");
    assert.deepEqual(lastRoute(events, "10.244.1.0/24")?.attributes?.asPath, [
      { type: "sequence", asns: [65001, 4200000009] },
    ]);
  });
});
