import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { lan, lastRoute, startStrataSpeaker } from "../../../test/support/bgp.js";
import { Frr, hasFrr } from "../../../test/support/frr.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

/** FRR bgpd with graceful restart on (F bits kept across its own restarts), eBGP to one Strata peer. */
const frrConf = (routerId: string, peer: string, networks: readonly string[]) =>
  [
    "frr defaults traditional",
    "router bgp 65001",
    ` bgp router-id ${routerId}`,
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
    " no bgp default ipv4-unicast",
    " bgp graceful-restart",
    " bgp graceful-restart preserve-fw-state",
    " bgp graceful-restart restart-time 120",
    " timers bgp 3 9",
    ` neighbor ${peer} remote-as 65002`,
    ` neighbor ${peer} timers connect 1`,
    ` neighbor ${peer} advertisement-interval 0`,
    " address-family ipv4 unicast",
    ...networks.map((n) => `  network ${n}`),
    `  neighbor ${peer} activate`,
    " exit-address-family",
    "",
  ].join("\n");

interface FrrPathGr {
  readonly valid?: boolean;
  readonly stale?: boolean;
}

/**
 * Graceful restart (RFC 4724) against real FRR (bgpd alone, `bgp graceful-restart`), both ways:
 * FRR restarts (killed, started again with -K) and Strata helps; Strata restarts (killed, started
 * again with --restarting) and FRR helps. Routes stay throughout; End-of-RIB sweeps what is gone.
 */
describe("graceful restart with FRR", { skip: !hasFrr() && "frr not installed" }, () => {
  const nss = new TestNamespaces("frrgr");
  const dir = mkdtempSync(join(tmpdir(), "strata-frrgr-"));
  const procs: ChildProcess[] = [];
  const daemons: Frr[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const d of daemons) d.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const strata = (ns: string, args: string[]) => {
    const s = startStrataSpeaker(ns, args);
    procs.push(s.proc);
    return s;
  };
  const strataArgs = (ip: string, peer: string, ...rest: string[]) => [
    ...["--asn", "65002", "--router-id", ip, "--hold", "9", "--connect-retry", "1"],
    ...["--peer", `${peer},as=65001`, "--listen", `${ip}:179`, ...rest],
  ];

  test("FRR restarts: Strata keeps its routes stale, then End-of-RIB sweeps the one FRR no longer has", async () => {
    const [f, s] = lan(nss, ["a-f", "a-s"], "192.168.90");
    const d = new Frr(f.ns, dir, "a-f", frrConf(f.ip, s.ip, ["10.244.1.0/24", "10.244.9.0/24"]));
    daemons.push(d);
    await d.start();
    const { events } = strata(s.ns, strataArgs(s.ip, f.ip));
    await eventually(
      () =>
        lastRoute(events, "10.244.1.0/24") !== undefined && lastRoute(events, "10.244.9.0/24") !== undefined,
      "Strata learned FRR's two routes",
    );
    await eventually(() => events.some((e) => e.event === "end-of-rib"), "FRR sent End-of-RIB");
    const routeLines = () => events.filter((e) => e.event === "route").length;
    const before = routeLines();
    d.kill();
    await eventually(() => events.some((e) => e.event === "routes-stale"), "Strata keeps FRR's routes stale");
    const stale = events.find((e) => e.event === "routes-stale") as unknown as { routes: number };
    assert.equal(stale.routes, 2);
    // FRR comes back (F bit from preserve-fw-state; this bgpd has no -K for the R bit) without 10.244.9.0/24.
    d.rewrite("a-f", frrConf(f.ip, s.ip, ["10.244.1.0/24"]));
    await d.start();
    await eventually(
      () => lastRoute(events, "10.244.9.0/24") === undefined,
      "the route FRR dropped is swept",
      {
        timeoutMs: 30_000,
      },
    );
    const swept = events.find((e) => e.event === "stale-swept");
    assert.match(swept?.reason ?? "", /End-of-RIB/, JSON.stringify(swept));
    // 10.244.1.0/24 was never withdrawn: the only route line since the kill is 10.244.9.0/24's removal.
    const since = events.filter((e) => e.event === "route").slice(before);
    assert.deepEqual(
      since.map((e) => [e.prefix, e.nextHop ?? null]),
      [["10.244.9.0/24", null]],
    );
    assert.ok(lastRoute(events, "10.244.1.0/24"));
  });

  test("Strata restarts: FRR keeps its route stale, and clears the mark after Strata's End-of-RIB", async () => {
    const [f, s] = lan(nss, ["b-f", "b-s"], "192.168.91");
    const d = new Frr(f.ns, dir, "b-f", frrConf(f.ip, s.ip, []));
    daemons.push(d);
    await d.start();
    const args = strataArgs(s.ip, f.ip, "--announce", "10.244.5.0/24");
    const first = strata(s.ns, args);
    const paths = () => d.json<{ routes?: Record<string, FrrPathGr[]> }>("show bgp ipv4 unicast")?.routes;
    await eventually(() => (paths()?.["10.244.5.0/24"]?.length ?? 0) > 0, "FRR learned Strata's route");
    first.proc.kill("SIGKILL");
    await eventually(() => paths()?.["10.244.5.0/24"]?.[0]?.stale === true, "FRR marks it stale (helper)", {
      timeoutMs: 20_000,
    });
    const second = strata(s.ns, [...args, "--restarting"]);
    // The route is there at every look until the mark is gone.
    await eventually(
      () => {
        const p = paths()?.["10.244.5.0/24"];
        assert.ok(p && p.length > 0, "FRR kept the route throughout");
        return p[0]?.stale !== true;
      },
      "FRR cleared the stale mark (Strata's End-of-RIB)",
      { timeoutMs: 30_000 },
    );
    await eventually(
      () => second.events.some((e) => e.event === "selection-done"),
      "Strata, restarting, selected after FRR's End-of-RIB",
    );
    const done = second.events.find((e) => e.event === "selection-done");
    assert.match(done?.reason ?? "", /End-of-RIB/);
  });
  test("RFC 8538 with FRR: SIGTERM sends a non-final Cease and FRR keeps the route stale; --withdraw-on-stop sends a Hard Reset and FRR drops it", async () => {
    const [f, s] = lan(nss, ["c-f", "c-s"], "192.168.92");
    const d = new Frr(f.ns, dir, "c-f", frrConf(f.ip, s.ip, []));
    daemons.push(d);
    await d.start();
    const paths = () => d.json<{ routes?: Record<string, FrrPathGr[]> }>("show bgp ipv4 unicast")?.routes;
    const neighbour = () =>
      d.json<
        Record<
          string,
          { lastNotificationHardReset?: boolean; lastResetDueTo?: string; lastErrorCodeSubcode?: string }
        >
      >(`show bgp neighbors ${s.ip}`)?.[s.ip];
    const args = strataArgs(s.ip, f.ip, "--announce", "10.244.6.0/24");
    const first = strata(s.ns, args);
    await eventually(() => (paths()?.["10.244.6.0/24"]?.length ?? 0) > 0, "FRR learned Strata's route");
    first.proc.kill("SIGTERM");
    await eventually(() => first.proc.exitCode !== null, "Strata stopped");
    assert.ok(
      first.events.some(
        (e) => e.event === "stopping" && (e as { peersKeepRoutes?: boolean }).peersKeepRoutes,
      ),
    );
    await eventually(() => paths()?.["10.244.6.0/24"]?.[0]?.stale === true, "FRR keeps it, stale (N bit)", {
      timeoutMs: 20_000,
    });
    assert.match(neighbour()?.lastResetDueTo ?? "", /Notification received/i, JSON.stringify(neighbour()));
    assert.equal(neighbour()?.lastErrorCodeSubcode, "0602", "Cease / Administrative Shutdown");
    assert.equal(neighbour()?.lastNotificationHardReset, false, "as it is, not a Hard Reset");
    // Back, then stopped for good: FRR drops the route at once.
    const second = strata(s.ns, [...args, "--restarting", "--withdraw-on-stop"]);
    await eventually(
      () =>
        paths()?.["10.244.6.0/24"]?.[0]?.stale === false ||
        paths()?.["10.244.6.0/24"]?.[0]?.stale === undefined,
      "the returned Strata's End-of-RIB clears the mark",
      { timeoutMs: 30_000 },
    );
    await eventually(() => d.state(s.ip) === "Established", "session up again");
    second.proc.kill("SIGTERM");
    await eventually(() => paths()?.["10.244.6.0/24"] === undefined, "FRR dropped the route (Hard Reset)", {
      timeoutMs: 10_000,
    });
    // FRR unwraps the Hard Reset: its last error is the Cease inside, marked hard.
    assert.equal(neighbour()?.lastErrorCodeSubcode, "0602");
    assert.equal(neighbour()?.lastNotificationHardReset, true, JSON.stringify(neighbour()));
  });
});
