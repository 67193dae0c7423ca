import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Bird, GoBgp, kernelRoute, lan, lastRoute, startStrataSpeaker } from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";
import { tcpSecurityAvailable } from "./tcp-security.js";

/**
 * TCP-MD5 (RFC 2385) and import lists against BIRD 2 and GoBGP configured with the same password:
 * the session comes up and routes flow (only those the import list allows reach the kernel); with a
 * wrong or missing password the kernel drops every segment and no session starts.
 */
const secret = "strata-md5-s3cret";
const skip = !tcpSecurityAvailable()
  ? "the TCP-MD5 addon is not built"
  : !hasCommands("bird", "gobgpd", "gobgp") && "bird2/gobgpd not installed";

describe("TCP-MD5 and import lists with BIRD 2 and GoBGP", { skip }, () => {
  const nss = new TestNamespaces("md5");
  const dir = mkdtempSync(join(tmpdir(), "strata-md5-"));
  const procs: ChildProcess[] = [];
  const daemons: { kill(): void }[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const d of daemons) d.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const keyFile = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, `${text}\n`, { mode: 0o600 });
    return f;
  };
  const good = keyFile("good.key", secret);
  const wrong = keyFile("wrong.key", "not-the-password");
  /** Strata (AS 65002) peering with the daemon at `peerIp` (AS 65001); `extra` adds peer options. */
  const strata = (m: { ns: string; ip: string }, peerIp: string, extra: string, announce: string) => {
    const s = startStrataSpeaker(m.ns, [
      ...["--asn", "65002", "--router-id", m.ip, "--hold", "9", "--connect-retry", "1"],
      ...["--peer", `${peerIp},as=65001${extra}`, "--announce", announce, "--install-routes"],
    ]);
    procs.push(s.proc);
    return s;
  };
  const rejectedOf = (events: readonly { event: string }[]) =>
    events
      .filter((e) => e.event === "rejected-routes")
      .flatMap((e) => (e as unknown as { prefixes: { prefix: string; reason: string }[] }).prefixes);
  const noSessionFor = async (events: readonly { event: string }[], ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return !events.some((e) => e.event === "established");
  };

  test("BIRD: same password — Established, routes both ways, import list and default-route rule applied", async () => {
    const [b, s] = lan(nss, ["bird-b", "bird-s"], "192.168.66");
    const bird = new Bird(
      b.ns,
      dir,
      "md5",
      `router id ${b.ip};
protocol device {}
protocol static st { ipv4; route 0.0.0.0/0 blackhole; route 10.50.1.0/24 blackhole; route 10.60.0.0/24 blackhole; }
protocol bgp strata {
  local ${b.ip} as 65001; neighbor ${s.ip} as 65002; direct; hold time 9; connect retry time 1;
  password "${secret}";
  ipv4 { import all; export all; };
}`,
    );
    daemons.push(bird);
    bird.start();
    const { events } = strata(s, b.ip, `,password-file=${good},import=10.50.0.0/16le24`, "10.244.66.0/24");
    await eventually(() => lastRoute(events, "10.50.1.0/24") !== undefined, "allowed route learned");
    await eventually(() => kernelRoute(s.ns, "10.50.1.0/24").includes(`via ${b.ip}`), "and installed");
    await eventually(() => rejectedOf(events).length === 2, "two refused");
    const refused = rejectedOf(events);
    assert.match(refused.find((r) => r.prefix === "0.0.0.0/0")?.reason ?? "", /default route/);
    assert.match(
      refused.find((r) => r.prefix === "10.60.0.0/24")?.reason ?? "",
      /not in the peer's import list/,
    );
    assert.equal(kernelRoute(s.ns, "0.0.0.0/0"), "", "no default route in the kernel");
    assert.equal(kernelRoute(s.ns, "10.60.0.0/24"), "");
    await eventually(() => /10\.244\.66\.0\/24/.test(bird.birdc("show", "route")), "BIRD has ours");
    assert.match(bird.birdc("show", "protocols", "strata"), /Established/);
  });

  test("BIRD: a wrong or a missing password — no session", async () => {
    const [b, s1, s2] = lan(nss, ["birdx-b", "birdx-w", "birdx-n"], "192.168.67");
    const peerConf = (ip: string, name: string) => `protocol bgp ${name} {
  local ${b.ip} as 65001; neighbor ${ip} as 65002; direct; hold time 9; connect retry time 1;
  password "${secret}";
  ipv4 { import all; export all; };
}`;
    const bird = new Bird(
      b.ns,
      dir,
      "md5x",
      `router id ${b.ip};\nprotocol device {}\n${peerConf(s1.ip, "pw_wrong")}\n${peerConf(s2.ip, "pw_missing")}`,
    );
    daemons.push(bird);
    bird.start();
    const w = strata(s1, b.ip, `,password-file=${wrong}`, "10.244.67.0/24");
    const n = strata(s2, b.ip, "", "10.244.68.0/24");
    assert.ok(await noSessionFor(w.events, 6000), "wrong password: no session");
    assert.ok(await noSessionFor(n.events, 0), "no password: no session");
    assert.doesNotMatch(bird.birdc("show", "protocols"), /Established/);
    assert.doesNotMatch(bird.birdc("show", "route"), /10\.244\.6[78]/);
  });

  const gobgpConf = (self: string, neighbors: string[]) => `[global.config]
  as = 65001
  router-id = "${self}"
  local-address-list = ["${self}"]
[global.apply-policy.config]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
${neighbors
  .map(
    (n) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${n}"
    peer-as = 65002
    auth-password = "${secret}"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
  )
  .join("")}`;

  test("GoBGP: same password — Established, routes both ways, import list and default-route rule applied", async () => {
    const [g, s] = lan(nss, ["gobgp-g", "gobgp-s"], "192.168.68");
    const d = new GoBgp(g.ns, dir, "md5", gobgpConf(g.ip, [s.ip]));
    daemons.push(d);
    await d.start();
    for (const p of ["0.0.0.0/0", "10.50.2.0/24", "10.50.3.0/25", "10.70.0.0/24"])
      d.cli("global", "rib", "add", p, "nexthop", g.ip);
    const { events } = strata(s, g.ip, `,password-file=${good},import=10.50.0.0/16le24`, "10.244.69.0/24");
    await eventually(
      () => kernelRoute(s.ns, "10.50.2.0/24").includes(`via ${g.ip}`),
      "allowed route installed",
      {
        timeoutMs: 20_000,
      },
    );
    await eventually(() => rejectedOf(events).length === 3, "three refused");
    const refused = rejectedOf(events).map((r) => r.prefix);
    assert.deepEqual(refused.sort(), ["0.0.0.0/0", "10.50.3.0/25", "10.70.0.0/24"]);
    for (const p of ["0.0.0.0/0", "10.50.3.0/25", "10.70.0.0/24"]) assert.equal(kernelRoute(s.ns, p), "", p);
    await eventually(() => d.cli("global", "rib").includes("10.244.69.0/24"), "GoBGP has ours");
    assert.match(d.cli("neighbor"), /Establ/);
  });

  test("GoBGP: a wrong or a missing password — no session", async () => {
    const [g, s1, s2] = lan(nss, ["gobgpx-g", "gobgpx-w", "gobgpx-n"], "192.168.69");
    const d = new GoBgp(g.ns, dir, "md5x", gobgpConf(g.ip, [s1.ip, s2.ip]));
    daemons.push(d);
    await d.start();
    const w = strata(s1, g.ip, `,password-file=${wrong}`, "10.244.70.0/24");
    const n = strata(s2, g.ip, "", "10.244.71.0/24");
    assert.ok(await noSessionFor(w.events, 6000), "wrong password: no session");
    assert.ok(await noSessionFor(n.events, 0), "no password: no session");
    assert.doesNotMatch(d.cli("neighbor"), /Establ/);
    assert.doesNotMatch(d.cli("global", "rib"), /10\.244\.7[01]/);
  });
});
