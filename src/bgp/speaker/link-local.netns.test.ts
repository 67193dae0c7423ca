import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Bird, kernelRoute, lastRoute, linkedPair, startStrataSpeaker } from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

const ip6 = (ns: string, addr: string) =>
  execFileSync("ip", ["-n", ns, "addr", "add", addr, "dev", "eth0", "nodad"]);

/** eth0's fe80:: address once the kernel has it (and it is no longer tentative). */
async function linkLocalOf(ns: string): Promise<string> {
  let found = "";
  await eventually(() => {
    const out = execFileSync("ip", ["-n", ns, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"], {
      encoding: "utf8",
    });
    const m = /inet6 (fe80::[0-9a-f:]+)\/64 scope link\s*(tentative)?/.exec(out);
    found = m && !m[2] ? (m[1] ?? "") : "";
    return found !== "";
  }, `link-local address in ${ns}`);
  return found;
}

/** No global address of either family on eth0: the unnumbered link of a BGP fabric. */
const unnumber = (ns: string) =>
  execFileSync("ip", ["-n", ns, "addr", "flush", "dev", "eth0", "scope", "global"]);

const strataArgs = (asn: number, routerId: string, ...rest: string[]) => [
  ...["--asn", String(asn), "--router-id", routerId, "--hold", "9", "--connect-retry", "1"],
  ...rest,
];

const birdSession = (neighbor: string, extra: string, channels: string) => `
protocol bgp strata {
  ${neighbor}
  ${extra}
  hold time 9;
  connect retry time 1;
  ${channels}
}
`;

/**
 * RFC 2545 link-local next hops, sent and received, and RFC 8950 over an unnumbered link: with
 * real BIRD 2 (which knows its interfaces; FRR's bgpd without zebra refuses a link-local next hop,
 * "no peer interface information") and between two Strata speakers.
 */
describe("BGP link-local next hops", () => {
  const nss = new TestNamespaces("bgpll");
  const dir = mkdtempSync(join(tmpdir(), "strata-bgpll-"));
  const procs: ChildProcess[] = [];
  const birds: Bird[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const b of birds) b.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const strata = (ns: string, args: string[]) => {
    const s = startStrataSpeaker(ns, args);
    procs.push(s.proc);
    return s;
  };
  const bird = (ns: string, name: string, routerId: string, conf: string) => {
    const b = new Bird(ns, dir, name, `router id ${routerId};\nprotocol device {}\n${conf}`);
    birds.push(b);
    b.start();
    return b;
  };
  const noBird = !hasCommands("bird") && "bird2 not installed";

  test("BIRD on a shared link over global IPv6: our link-local next hop beside the global one (link-local-next-hop)", {
    skip: noBird,
  }, async () => {
    const [f, s] = linkedPair(nss, ["ll-b1", "ll-s1"], ["192.168.89.1", "192.168.89.2"]);
    ip6(f, "fd00:89::1/64");
    ip6(s, "fd00:89::2/64");
    const [fll, sll] = [await linkLocalOf(f), await linkLocalOf(s)];
    const b = bird(
      f,
      "ll-b1",
      "192.168.89.1",
      `protocol static { ipv6; route fd00:244:1::/64 blackhole; }
${birdSession("neighbor fd00:89::2 as 65002;", "local fd00:89::1 as 65001; direct;", "ipv6 { import all; export all; };")}`,
    );
    const { events } = strata(
      s,
      strataArgs(
        65002,
        "192.168.89.2",
        "--peer",
        "fd00:89::1,as=65001,link-local-next-hop",
        "--install-routes",
      ).concat("--announce", "fd00:244:9::/64"),
    );
    await eventually(() => /AS65002/.test(b.birdc("show", "route", "fd00:244:9::/64")), "ours reached BIRD");
    assert.match(
      b.birdc("show", "route", "all", "fd00:244:9::/64"),
      new RegExp(`BGP\\.next_hop: fd00:89::2 ${sll}`),
      "RFC 2545 §3: global, then our link-local address on the shared link",
    );
    await eventually(() => lastRoute(events, "fd00:244:1::/64") !== undefined, "BIRD's route learned");
    const got = lastRoute(events, "fd00:244:1::/64");
    assert.deepEqual((got?.attributes?.mpReach as { nextHops?: string[] })?.nextHops, ["fd00:89::1", fll]);
    assert.equal(got?.nextHop, "fd00:89::1", "the global one is used");
    await eventually(
      () => kernelRoute(s, "fd00:244:1::/64").includes("via fd00:89::1 dev eth0"),
      "in the kernel via the global next hop",
    );
  });

  test("BIRD over an unnumbered link: IPv6, and IPv4 by RFC 8950, both ways, installed out of eth0", {
    skip: noBird,
  }, async () => {
    const [f, s] = linkedPair(nss, ["ll-b2", "ll-s2"], ["192.168.91.1", "192.168.91.2"]);
    unnumber(f);
    unnumber(s);
    const [fll, sll] = [await linkLocalOf(f), await linkLocalOf(s)];
    const b = bird(
      f,
      "ll-b2",
      "192.168.91.1",
      `protocol static { ipv4; route 10.244.1.0/24 blackhole; }
protocol static { ipv6; route fd00:244:1::/64 blackhole; }
${birdSession(
  `neighbor ${sll} % 'eth0' as 65002;`,
  "local as 65001;",
  "ipv4 { import all; export all; extended next hop on; }; ipv6 { import all; export all; };",
)}`,
    );
    const { events } = strata(
      s,
      strataArgs(
        65002,
        "192.168.91.2",
        "--peer",
        `${fll}%eth0,as=65001,extended-nexthop`,
        "--install-routes",
      ).concat("--announce", "10.244.9.0/24,fd00:244:9::/64"),
    );
    await eventually(() => lastRoute(events, "10.244.1.0/24") !== undefined, "BIRD's IPv4 route learned");
    assert.equal(lastRoute(events, "10.244.1.0/24")?.nextHop, fll);
    await eventually(
      () => kernelRoute(s, "10.244.1.0/24").includes(`via inet6 ${fll} dev eth0`),
      "IPv4 via inet6",
    );
    await eventually(() => lastRoute(events, "fd00:244:1::/64") !== undefined, "BIRD's IPv6 route learned");
    assert.equal(lastRoute(events, "fd00:244:1::/64")?.nextHop, fll);
    await eventually(
      () => kernelRoute(s, "fd00:244:1::/64").includes(`via ${fll} dev eth0`),
      "IPv6 in the kernel",
    );
    await eventually(
      () => /AS65002/.test(b.birdc("show", "route", "10.244.9.0/24")),
      "our IPv4 route at BIRD",
    );
    assert.match(b.birdc("show", "route", "all", "10.244.9.0/24"), new RegExp(`BGP\\.next_hop: .*${sll}`));
    await eventually(
      () => /AS65002/.test(b.birdc("show", "route", "fd00:244:9::/64")),
      "our IPv6 route at BIRD",
    );
    assert.equal(events.filter((e) => e.event === "down" || e.event === "family-ignored").length, 0);
  });

  test("two Strata speakers over an unnumbered link: IPv6, and IPv4 by RFC 8950; traffic follows", async () => {
    const [a, b] = linkedPair(nss, ["ll-a", "ll-b"], ["192.168.90.1", "192.168.90.2"]);
    unnumber(a);
    unnumber(b);
    const [all, bll] = [await linkLocalOf(a), await linkLocalOf(b)];
    const { events: aEvents } = strata(
      a,
      strataArgs(
        65001,
        "192.168.90.1",
        "--listen",
        "179",
        "--peer",
        `${bll}%eth0,as=65002,extended-nexthop`,
      ).concat("--announce", "fd00:244:a::/64,10.244.10.0/24"),
    );
    const { events } = strata(
      b,
      strataArgs(
        65002,
        "192.168.90.2",
        "--peer",
        `${all}%eth0,as=65001,extended-nexthop`,
        "--install-routes",
      ).concat("--ipv6"),
    );
    await eventually(() => lastRoute(events, "fd00:244:a::/64") !== undefined, "IPv6 route learned").catch(
      (err: unknown) => {
        const seen = events.filter((e) => e.event !== "summary" && e.event !== "state");
        throw new Error(
          `${String(err)}; B saw ${JSON.stringify(seen)}; A saw ${JSON.stringify(aEvents.filter((e) => e.event !== "summary" && e.event !== "state"))}`,
        );
      },
    );
    assert.equal(lastRoute(events, "fd00:244:a::/64")?.nextHop, all);
    await eventually(
      () => kernelRoute(b, "fd00:244:a::/64").includes(`via ${all} dev eth0`),
      "IPv6 in the kernel",
    );
    await eventually(() => lastRoute(events, "10.244.10.0/24") !== undefined, "IPv4 route learned");
    assert.equal(lastRoute(events, "10.244.10.0/24")?.nextHop, all);
    await eventually(
      () => kernelRoute(b, "10.244.10.0/24").includes(`via inet6 ${all} dev eth0`),
      "IPv4 via inet6",
    );
    // Traffic follows it: a ping between addresses behind each side, over a link with no IPv4.
    execFileSync("ip", ["-n", a, "addr", "add", "10.244.10.1/32", "dev", "lo"]);
    execFileSync("ip", ["-n", b, "addr", "add", "10.244.11.1/32", "dev", "lo"]);
    execFileSync("ip", ["-n", a, "route", "add", "10.244.11.1/32", "via", "inet6", bll, "dev", "eth0"]);
    execFileSync("ip", [
      "netns",
      "exec",
      b,
      "ping",
      "-c",
      "1",
      "-W",
      "2",
      "-I",
      "10.244.11.1",
      "10.244.10.1",
    ]);
  });
});
