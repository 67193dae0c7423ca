import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Bird, linkedPair, startStrataSpeaker } from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

/**
 * BIRD 2 as graceful-restart helper (`graceful restart on`) of a Strata speaker that is killed and
 * started again: the route stays in BIRD while Strata is away; with graceful restart off on
 * Strata's side (--restart-time 0) BIRD drops it at once. A SIGTERM is a restart too (the
 * session closes without a NOTIFICATION: BIRD 2.0.12 has no RFC 8538 N bit); --withdraw-on-stop
 * ends it with a Cease and BIRD drops the route.
 */
describe("graceful restart with BIRD 2", { skip: !hasCommands("bird") && "bird2 not installed" }, () => {
  const nss = new TestNamespaces("birdgr");
  const dir = mkdtempSync(join(tmpdir(), "strata-birdgr-"));
  const procs: ChildProcess[] = [];
  const birds: Bird[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    for (const b of birds) b.kill();
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const setUp = (label: string, net: string) => {
    const [a, s] = linkedPair(nss, [`${label}-b`, `${label}-s`], [`${net}.1`, `${net}.2`]);
    const b = new Bird(
      a,
      dir,
      label,
      `router id ${net}.1;
protocol device {}
protocol bgp strata {
  local ${net}.1 as 65001;
  neighbor ${net}.2 as 65002;
  direct;
  hold time 9;
  connect retry time 1;
  graceful restart on;
  ipv4 { import all; export all; };
}
`,
    );
    birds.push(b);
    b.start();
    const strata = (...extra: string[]) => {
      const sp = startStrataSpeaker(s, [
        ...["--asn", "65002", "--router-id", `${net}.2`, "--hold", "9", "--connect-retry", "1"],
        ...["--peer", `${net}.1,as=65001`, "--announce", "10.244.7.0/24", ...extra],
      ]);
      procs.push(sp.proc);
      return sp;
    };
    const hasRoute = () => /10\.244\.7\.0\/24/.test(b.birdc("show", "route", "protocol", "strata"));
    const established = () => /Established/.test(b.birdc("show", "protocols", "strata"));
    return { b, strata, hasRoute, established };
  };

  test("Strata killed and restarted (--restarting): BIRD keeps its route all along", async () => {
    const { strata, hasRoute, established } = setUp("gr", "192.168.62");
    const first = strata();
    await eventually(() => hasRoute() && established(), "BIRD learned Strata's route");
    first.proc.kill("SIGKILL");
    await eventually(() => !established(), "BIRD saw the session go");
    for (let i = 0; i < 10; i++) {
      assert.ok(hasRoute(), "BIRD keeps the route while Strata is away");
      await new Promise((r) => setTimeout(r, 200));
    }
    const second = strata("--restarting");
    await eventually(() => {
      assert.ok(hasRoute(), "BIRD keeps the route while Strata comes back");
      return established() && second.events.some((e) => e.event === "selection-done");
    }, "back, and Strata selected after BIRD's End-of-RIB");
    assert.match(second.events.find((e) => e.event === "selection-done")?.reason ?? "", /End-of-RIB/);
    assert.ok(hasRoute());
  });

  test("SIGTERM is a restart: BIRD keeps the route; --withdraw-on-stop: BIRD drops it", async () => {
    const { strata, hasRoute, established } = setUp("term", "192.168.64");
    const first = strata();
    await eventually(() => hasRoute() && established(), "BIRD learned Strata's route");
    first.proc.kill("SIGTERM");
    await eventually(() => first.proc.exitCode !== null, "Strata stopped on SIGTERM");
    assert.equal(first.proc.exitCode, 0);
    assert.ok(
      first.events.some(
        (e) => e.event === "stopping" && (e as { peersKeepRoutes?: boolean }).peersKeepRoutes === true,
      ),
      "Strata said its peers keep its routes",
    );
    await eventually(() => !established(), "BIRD saw the session go");
    for (let i = 0; i < 10; i++) {
      assert.ok(hasRoute(), "BIRD keeps the route of a speaker that stopped for a restart");
      await new Promise((r) => setTimeout(r, 200));
    }
    const second = strata("--restarting", "--withdraw-on-stop");
    await eventually(() => established() && hasRoute(), "back");
    second.proc.kill("SIGTERM");
    await eventually(
      () => !hasRoute(),
      "BIRD dropped the route of a speaker stopped with --withdraw-on-stop",
    );
  });

  test("graceful restart off on Strata's side: BIRD drops the route when the session goes", async () => {
    const { strata, hasRoute, established } = setUp("nogr", "192.168.63");
    const first = strata("--restart-time", "0");
    await eventually(() => hasRoute() && established(), "BIRD learned Strata's route");
    first.proc.kill("SIGKILL");
    await eventually(() => !hasRoute(), "BIRD dropped it");
  });
});
