import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { jsonInNetns } from "../../../test/support/agent-http.js";
import { kernelRoute, lan } from "../../../test/support/bgp.js";
import { repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

/**
 * The BGP backend under issue 9: a node whose agent is killed keeps its routes on the other nodes
 * although the BGP session to it is gone (its kernel still forwards), for as long as its subnet
 * lease is held: first as graceful restart's stale routes (RFC 4724; restart time 3 s here),
 * then by the backend's retention bounded by ownership. `strata node remove` ends it: every
 * other node withdraws the route.
 */
interface Health {
  backend?: {
    bgpSessions: { peer: string; state: string }[];
    bgpRetainedRoutes: string[];
    bgpGracefulRestart: { staleRoutes: number };
  };
}

describe("BGP: routes of a node whose agent died stay while its lease does", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-bgp-retain-"));
  const procs: ChildProcess[] = [];
  const nss = new TestNamespaces("bgpret");
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = join(repoRoot, "bin/strata.js");
  const health = (ns: string): Health => jsonInNetns<Health>(ns, "/healthz");

  test("kill -9 of n2's agent: its session drops, n1 and n3 keep n2's route (pods still reach it); after `strata node remove n2` they withdraw it", async () => {
    const store = join(dir, "store", "kv.sock");
    const ds = spawn(process.execPath, [cli, "datastore", "--socket", store, "--dir", join(dir, "log")], {
      stdio: "ignore",
    });
    procs.push(ds);
    await eventually(() => existsSync(store), "datastore up");
    const members = lan(nss, ["r1", "r2", "r3"], "192.168.79");
    const agents = members.map((m, i) => {
      mkdirSync(join(dir, `cni-${i + 1}`), { mode: 0o700 });
      const stateDir = join(dir, `n${i + 1}`);
      const args = [
        ...["agent", "--node", `n${i + 1}`, "--backend", "bgp", "--datastore", `embedded:${store}`],
        ...[
          "--underlay-dev",
          "eth0",
          "--bgp-hold",
          "9",
          "--bgp-restart-time",
          "3",
          "--state-dir",
          stateDir,
          "--heartbeat-ttl",
          "3",
        ],
        ...["--cni-socket-dir", join(dir, `cni-${i + 1}`), "--no-masquerade"],
      ];
      const p = spawn("ip", ["netns", "exec", m.ns, process.execPath, cli, ...args], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      procs.push(p);
      return { ...m, proc: p, stateDir };
    });
    const subnets = await Promise.all(
      agents.map(async (a) => {
        const f = join(a.stateDir, "subnet.json");
        await eventually(() => existsSync(f), "subnet leased", { timeoutMs: 20_000 });
        return (JSON.parse(readFileSync(f, "utf8")) as { subnet: string }).subnet;
      }),
    );
    const [n1, n2, n3] = agents as [(typeof agents)[0], (typeof agents)[0], (typeof agents)[0]];
    const s2 = subnets[1] as string;
    await eventually(
      () =>
        kernelRoute(n1.ns, s2).includes(`via ${n2.ip}`) && kernelRoute(n3.ns, s2).includes(`via ${n2.ip}`),
      "n1 and n3 learned n2's subnet",
      { timeoutMs: 30_000 },
    );
    // A pod address on n2 behind its subnet's gateway, to show the data path still works.
    const podIp = s2.replace(/0\/24$/, "1");
    execFileSync("ip", ["-n", n2.ns, "addr", "add", `${podIp}/24`, "dev", "lo"]);
    const ping = () => {
      try {
        execFileSync("ip", ["netns", "exec", n1.ns, "ping", "-c", "1", "-W", "2", "-q", podIp], {
          stdio: "ignore",
        });
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(ping(), "n1 → n2's subnet before");
    n2.proc.kill("SIGKILL");
    await eventually(
      () => health(n1.ns).backend?.bgpSessions.find((s) => s.peer === n2.ip)?.state !== "Established",
      "n1's session to n2 is down",
      { timeoutMs: 20_000 },
    );
    // Graceful restart first: the route is stale for n2's restart time (3 s)...
    assert.equal(health(n1.ns).backend?.bgpGracefulRestart.staleRoutes, 1, "stale (graceful restart)");
    // ...then past the restart time and the hold time: nothing left of the session, the route is kept.
    await new Promise((r) => setTimeout(r, 12_000));
    assert.ok(kernelRoute(n1.ns, s2).includes(`via ${n2.ip}`), "n1 keeps n2's route");
    assert.ok(kernelRoute(n3.ns, s2).includes(`via ${n2.ip}`), "n3 keeps n2's route");
    assert.deepEqual(health(n1.ns).backend?.bgpRetainedRoutes, [s2], "reported as retained");
    assert.ok(ping(), "n1 → n2's subnet: n2's kernel still forwards");
    execFileSync(process.execPath, [cli, "node", "remove", "n2", "--datastore", `embedded:${store}`]);
    await eventually(
      () => kernelRoute(n1.ns, s2) === "" && kernelRoute(n3.ns, s2) === "",
      "n1 and n3 withdrew n2's route after node remove",
    );
    assert.deepEqual(health(n1.ns).backend?.bgpRetainedRoutes, []);
  });
});
