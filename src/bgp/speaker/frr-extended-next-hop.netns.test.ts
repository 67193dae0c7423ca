import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { kernelRoute, lastRoute, linkedPair, startStrataSpeaker } from "../../../test/support/bgp.js";
import { Frr, hasFrr } from "../../../test/support/frr.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

const ip6 = (ns: string, addr: string) =>
  execFileSync("ip", ["-n", ns, "addr", "add", addr, "dev", "eth0", "nodad"]);

/** FRR bgpd (no zebra) with one IPv6 neighbour that carries IPv4 unicast over the IPv6 session. */
const frrConf = (o: { neighbor: string; routeMaps: string; extra: readonly string[]; out?: string }) =>
  [
    "frr defaults traditional",
    o.routeMaps,
    "router bgp 65001",
    " bgp router-id 192.168.87.1",
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
    " no bgp default ipv4-unicast",
    " timers bgp 3 9",
    ` neighbor ${o.neighbor} remote-as 65002`,
    ` neighbor ${o.neighbor} timers connect 1`,
    ` neighbor ${o.neighbor} advertisement-interval 0`,
    ...o.extra.map((l) => ` neighbor ${o.neighbor} ${l}`),
    " address-family ipv4 unicast",
    "  network 10.244.1.0/24",
    `  neighbor ${o.neighbor} activate`,
    ...(o.out ? [`  neighbor ${o.neighbor} route-map ${o.out} out`] : []),
    " exit-address-family",
    "",
  ].join("\n");

/**
 * RFC 8950 against real FRR 8.4 (`neighbor X capability extended-nexthop`): IPv4 routes over an
 * IPv6-only session, each side's next hop IPv6, the route in the kernel `via inet6`.
 */
describe("RFC 8950 extended next hop with FRR", { skip: !hasFrr() && "frr not installed" }, () => {
  const nss = new TestNamespaces("frr8950");
  const dir = mkdtempSync(join(tmpdir(), "strata-frr8950-"));
  const procs: ChildProcess[] = [];
  const daemons: Frr[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const d of daemons) d.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("IPv4 routes over an IPv6 session with IPv6 next hops both ways, installed via inet6", async () => {
    // No IPv4 address on the link at all: IPv4 can only travel with IPv6 next hops.
    const [f, s] = linkedPair(nss, ["enh-f", "enh-s"], ["192.168.87.1", "192.168.87.2"]);
    for (const ns of [f, s])
      execFileSync("ip", ["-n", ns, "addr", "flush", "dev", "eth0", "scope", "global"]);
    ip6(f, "fd00:87::1/64");
    ip6(s, "fd00:87::2/64");
    const d = new Frr(
      f,
      dir,
      "enh-f",
      frrConf({
        neighbor: "fd00:87::2",
        extra: ["capability extended-nexthop"],
        out: "NH6",
        // Without zebra FRR knows no interface address to use as the next hop.
        routeMaps: "route-map NH6 permit 10\n set ipv6 next-hop global fd00:87::1\n",
      }),
    );
    daemons.push(d);
    await d.start();
    const sp = startStrataSpeaker(s, [
      ...["--asn", "65002", "--router-id", "192.168.87.2", "--hold", "9", "--connect-retry", "1"],
      ...[
        "--peer",
        "fd00:87::1,as=65001,extended-nexthop",
        "--announce",
        "10.244.9.0/24",
        "--install-routes",
      ],
    ]);
    procs.push(sp.proc);
    const { events } = sp;
    await eventually(() => d.paths("ipv4", "10.244.9.0/24").length > 0, "our IPv4 route reached FRR");
    assert.equal(d.paths("ipv4", "10.244.9.0/24")[0]?.nexthops?.[0]?.ip, "fd00:87::2");
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "FRR's IPv4 route learned");
    assert.equal(lastRoute(events, "10.244.1.0/24")?.nextHop, "fd00:87::1");
    await eventually(
      () => kernelRoute(s, "10.244.1.0/24").includes("via inet6 fd00:87::1 dev eth0"),
      "in the kernel via inet6",
    );
    assert.equal(events.filter((e) => e.event === "family-ignored").length, 0);
    assert.equal(events.filter((e) => e.event === "unsendable").length, 0);
    assert.equal(events.filter((e) => e.event === "down").length, 0);
    assert.equal(d.state("fd00:87::2"), "Established");
    const caps = d.json<Record<string, { neighborCapabilities?: { extendedNexthop?: string } }>>(
      "show bgp neighbors fd00:87::2",
    );
    assert.equal(caps?.["fd00:87::2"]?.neighborCapabilities?.extendedNexthop, "advertisedAndReceived");
  });

  test("without capability 5 on our side: IPv4 cannot go (told, never a malformed NEXT_HOP), the session stays", async () => {
    const [f, s] = linkedPair(nss, ["noenh-f", "noenh-s"], ["192.168.88.1", "192.168.88.2"]);
    for (const ns of [f, s])
      execFileSync("ip", ["-n", ns, "addr", "flush", "dev", "eth0", "scope", "global"]);
    ip6(f, "fd00:88::1/64");
    ip6(s, "fd00:88::2/64");
    const d = new Frr(
      f,
      dir,
      "noenh-f",
      frrConf({
        neighbor: "fd00:88::2",
        extra: ["capability extended-nexthop"],
        out: "NH6",
        routeMaps: "route-map NH6 permit 10\n set ipv6 next-hop global fd00:88::1\n",
      }),
    );
    daemons.push(d);
    await d.start();
    const sp = startStrataSpeaker(s, [
      ...["--asn", "65002", "--router-id", "192.168.88.2", "--hold", "9", "--connect-retry", "1"],
      ...["--peer", "fd00:88::1,as=65001", "--announce", "10.244.9.0/24"],
    ]);
    procs.push(sp.proc);
    const { events } = sp;
    await eventually(() => events.some((e) => e.event === "unsendable"), "IPv4 reported unsendable");
    // FRR 8.4 without the capability negotiated sends its IPv4 route with NEXT_HOP 0.0.0.0 (it
    // has no IPv4 address for the session): RFC 4271 §6.3, treated as withdrawn, not installed.
    await eventually(
      () =>
        events.some((e) => e.event === "update-error" && /0\.0\.0\.0 is unspecified/.test(e.reason ?? "")),
      "FRR's NEXT_HOP 0.0.0.0 refused",
    );
    assert.equal(lastRoute(events, "10.244.1.0/24"), undefined);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(d.paths("ipv4", "10.244.9.0/24").length, 0);
    assert.equal(events.filter((e) => e.event === "down").length, 0);
    assert.equal(d.state("fd00:88::2"), "Established");
  });
});
