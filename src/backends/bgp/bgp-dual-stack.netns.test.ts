import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { jsonInNetns } from "../../../test/support/agent-http.js";
import { kernelRoute, lan } from "../../../test/support/bgp.js";
import { CniSandbox, canPing, repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { addNetworkList, type ConfList } from "../../cni/runtime-client.js";
import { eventually } from "../../common/eventually.js";

/**
 * Dual stack on the bgp backend (issue 15, item 5): two agents on one LAN with an IPv4 and an
 * IPv6 address each, a dual-stack cluster CIDR. Each leases a subnet of each family, announces
 * both over its IPv4 session (IPv6 unicast negotiated, RFC 4760) with its IPv6 address as the
 * IPv6 next hop, installs the other's IPv6 subnet via that address, and its pods get an address
 * of each family that the other node's pods reach.
 */
interface CniResult {
  ips: { address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
}

describe("bgp backend, dual stack: two agents exchange IPv4 and IPv6 pod subnets", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-bgp-dual-"));
  const procs: ChildProcess[] = [];
  const nss = new TestNamespaces("bgpdual");
  const sandbox = new CniSandbox();
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    nss.cleanup();
    sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = join(repoRoot, "bin/strata.js");

  test("subnet6 leased and announced via publicIp6, routed proto 147, pods get both families and ping each other over IPv6", async () => {
    await sandbox.install();
    const store = join(dir, "store", "kv.sock");
    const ds = spawn(process.execPath, [cli, "datastore", "--socket", store, "--dir", join(dir, "log")], {
      stdio: "ignore",
    });
    procs.push(ds);
    await eventually(() => existsSync(store), "datastore up");
    const members = lan(nss, ["d1", "d2"], "192.168.78");
    for (const [i, m] of members.entries())
      execFileSync("ip", ["-n", m.ns, "addr", "add", `fd00:78::${i + 1}/64`, "dev", "eth0", "nodad"]);
    const startAgent = (m: (typeof members)[number], i: number, stateDir: string): ChildProcess => {
      const args = [
        ...["agent", "--node", `n${i + 1}`, "--backend", "bgp", "--datastore", `embedded:${store}`],
        ...["--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56", "--underlay-dev", "eth0"],
        ...["--bgp-hold", "9", "--state-dir", stateDir, "--no-masquerade"],
        ...["--cni-socket-dir", join(dir, `cni-${i + 1}`)],
      ];
      const p = spawn("ip", ["netns", "exec", m.ns, process.execPath, cli, ...args], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      procs.push(p);
      return p;
    };
    const agents = members.map((m, i) => {
      mkdirSync(join(dir, `cni-${i + 1}`), { mode: 0o700 });
      const stateDir = join(dir, `n${i + 1}`);
      return { ...m, ip6: `fd00:78::${i + 1}`, stateDir, proc: startAgent(m, i, stateDir) };
    });
    const leased = await Promise.all(
      agents.map(async (a) => {
        const f = join(a.stateDir, "subnet.json");
        await eventually(() => existsSync(f), "subnet leased", { timeoutMs: 20_000 });
        return JSON.parse(readFileSync(f, "utf8")) as { subnet: string; subnet6?: string };
      }),
    );
    const [n1, n2] = agents as [(typeof agents)[0], (typeof agents)[0]];
    const [l1, l2] = leased as [(typeof leased)[0], (typeof leased)[0]];
    assert.match(l1.subnet6 ?? "", /^fd00:10:244:[0-9a-f]+::\/64$/);
    assert.match(l2.subnet6 ?? "", /^fd00:10:244:[0-9a-f]+::\/64$/);
    assert.notEqual(l1.subnet6, l2.subnet6);
    const s1 = l1.subnet6 as string;
    const s2 = l2.subnet6 as string;
    await eventually(
      () =>
        kernelRoute(n1.ns, s2).includes(`via ${n2.ip6}`) && kernelRoute(n2.ns, s1).includes(`via ${n1.ip6}`),
      "each node routes the other's IPv6 subnet via its IPv6 address",
      { timeoutMs: 30_000 },
    );
    assert.match(kernelRoute(n1.ns, s2), /proto 147/);
    assert.match(
      kernelRoute(n1.ns, l2.subnet),
      new RegExp(`via ${n2.ip.replaceAll(".", "\\.")} .*proto 147`),
    );
    // A pod on each node through the conflist the agent wrote: one address of each family.
    const pods = await Promise.all(
      agents.map(async (a, i) => {
        const conf = JSON.parse(readFileSync(join(a.stateDir, "10-strata.conflist"), "utf8")) as ConfList;
        const pod = nss.create(`pod${i + 1}`);
        const att = { containerId: `c-dual-${i + 1}`, netns: nss.path(pod), ifName: "eth0" };
        const r = (await addNetworkList(conf, att, sandbox.runtime(a.ns))) as CniResult;
        return { ns: pod, result: r };
      }),
    );
    for (const [i, p] of pods.entries()) {
      const lease = leased[i] as (typeof leased)[0];
      const v4 = p.result.ips.find((x) => !x.address.includes(":"));
      const v6 = p.result.ips.find((x) => x.address.includes(":"));
      assert.ok(v4 && v6, `pod ${i + 1} has an IPv4 and an IPv6 address: ${JSON.stringify(p.result.ips)}`);
      assert.equal(v6.address.split("/")[1], "64");
      assert.ok(v6.address.startsWith((lease.subnet6 as string).replace("::/64", ":")), v6.address);
      assert.deepEqual((p.result.routes ?? []).map((r) => r.dst).sort(), ["0.0.0.0/0", "::/0"]);
    }
    const addr6 = (i: number) =>
      (pods[i]?.result.ips.find((x) => x.address.includes(":"))?.address ?? "").split("/")[0] as string;
    const addr4 = (i: number) =>
      (pods[i]?.result.ips.find((x) => !x.address.includes(":"))?.address ?? "").split("/")[0] as string;
    const ping6 = (fromNs: string, ip: string) => {
      try {
        execFileSync("ip", ["netns", "exec", fromNs, "ping", "-6", "-c", "1", "-W", "2", "-q", ip], {
          stdio: "ignore",
        });
        return true;
      } catch {
        return false;
      }
    };
    await eventually(() => ping6(pods[0]?.ns as string, addr6(1)), "pod on n1 → pod on n2 over IPv6", {
      timeoutMs: 10_000,
    });
    assert.ok(ping6(pods[1]?.ns as string, addr6(0)), "pod on n2 → pod on n1 over IPv6");
    assert.ok(canPing(pods[0]?.ns as string, addr4(1)), "pod on n1 → pod on n2 over IPv4 still");

    // kill -9 of n2's agent and a restart: both subnets are n2's still (subnet.json, the
    // datastore), n1 kept the route meanwhile, n2's kernel kept n1's IPv6 route (graceful restart).
    n2.proc.kill("SIGKILL");
    await new Promise((r) => n2.proc.once("exit", r));
    assert.match(kernelRoute(n1.ns, s2), new RegExp(`via ${n2.ip6}`), "n1 keeps n2's IPv6 route");
    const restarted = startAgent(members[1] as (typeof members)[number], 1, n2.stateDir);
    await eventually(
      () =>
        jsonInNetns<{ subnet6?: string; firstReconcileAt?: string }>(n2.ns, "/healthz").firstReconcileAt !==
        undefined,
      "n2's restarted agent serves and has reconciled",
      { timeoutMs: 20_000 },
    );
    assert.equal(restarted.exitCode, null, "the restarted agent runs");
    assert.equal(jsonInNetns<{ subnet6?: string }>(n2.ns, "/healthz").subnet6, l2.subnet6);
    const again = JSON.parse(readFileSync(join(n2.stateDir, "subnet.json"), "utf8")) as typeof l2;
    assert.deepEqual([again.subnet, again.subnet6], [l2.subnet, l2.subnet6], "n2 kept both subnets");
    assert.match(kernelRoute(n2.ns, s1), new RegExp(`via ${n1.ip6} .*proto 147`), "n2 kept n1's IPv6 route");
    assert.ok(ping6(pods[0]?.ns as string, addr6(1)), "pod on n1 → pod on n2 over IPv6 after the restart");
  });
});
