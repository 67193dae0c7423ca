import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { jsonInNetns } from "../../../test/support/agent-http.js";
import { kernelRoute, lan } from "../../../test/support/bgp.js";
import { CniSandbox, repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { addNetworkList, type ConfList } from "../../cni/runtime-client.js";
import { eventually } from "../../common/eventually.js";

/**
 * IPv6-only clusters on the bgp backend (issue 15, item 5): two agents on one LAN whose underlay
 * has IPv6 addresses alone (the IPv4 ones the LAN helper gives are removed), `--cluster-cidr
 * fd00:10:244::/56` alone. Each leases an IPv6 /64 only (stored as subnet6/publicIp6), the BGP
 * session runs over IPv6 between the nodes' addresses, each installs the other's subnet via its
 * IPv6 address (proto 147), and pods get an IPv6 address alone with an IPv6 default route.
 */
interface CniResult {
  ips: { address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
}

interface Health {
  subnet?: string;
  subnet6?: string;
  firstReconcileAt?: string;
  backend?: { bgpSessions?: { peer: string; state: string }[] };
}

describe("bgp backend, IPv6-only: two agents exchange IPv6 pod subnets over an IPv6 session", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-bgp-v6only-"));
  const procs: ChildProcess[] = [];
  const nss = new TestNamespaces("bgpv6o");
  const sandbox = new CniSandbox();
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    nss.cleanup();
    sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = join(repoRoot, "bin/strata.js");

  test("IPv6 subnets leased and announced over IPv6, routed proto 147 via the peer's IPv6 address, pods ping -6, kill -9 keeps the subnet", async () => {
    await sandbox.install();
    const store = join(dir, "store", "kv.sock");
    const ds = spawn(process.execPath, [cli, "datastore", "--socket", store, "--dir", join(dir, "log")], {
      stdio: "ignore",
    });
    procs.push(ds);
    await eventually(() => existsSync(store), "datastore up");
    const members = lan(nss, ["v1", "v2"], "192.168.79");
    for (const [i, m] of members.entries()) {
      execFileSync("ip", ["-n", m.ns, "-4", "addr", "flush", "dev", "eth0"]);
      execFileSync("ip", ["-n", m.ns, "addr", "add", `fd00:79::${i + 1}/64`, "dev", "eth0", "nodad"]);
    }
    const startAgent = (m: (typeof members)[number], i: number, stateDir: string): ChildProcess => {
      const args = [
        ...["agent", "--node", `n${i + 1}`, "--backend", "bgp", "--datastore", `embedded:${store}`],
        ...["--cluster-cidr", "fd00:10:244::/56", "--underlay-dev", "eth0"],
        ...["--bgp-hold", "9", "--state-dir", stateDir],
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
      return { ...m, ip6: `fd00:79::${i + 1}`, stateDir, proc: startAgent(m, i, stateDir) };
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
    for (const l of leased) {
      assert.match(l.subnet, /^fd00:10:244:[0-9a-f]+::\/64$/, "the node's one subnet is IPv6");
      assert.equal(l.subnet6, undefined, "no second (dual-stack) subnet");
    }
    assert.notEqual(l1.subnet, l2.subnet);
    const s1 = l1.subnet;
    const s2 = l2.subnet;
    await eventually(
      () =>
        kernelRoute(n1.ns, s2).includes(`via ${n2.ip6}`) && kernelRoute(n2.ns, s1).includes(`via ${n1.ip6}`),
      "each node routes the other's subnet via its IPv6 address",
      { timeoutMs: 30_000 },
    );
    assert.match(kernelRoute(n1.ns, s2), /proto 147/);
    assert.match(kernelRoute(n2.ns, s1), /proto 147/);
    // The session is the IPv6 one between the node addresses (no IPv4 on the underlay at all).
    const sessions = jsonInNetns<Health>(n1.ns, "/healthz").backend?.bgpSessions ?? [];
    assert.deepEqual(
      sessions.map((s) => [s.peer, s.state]),
      [[n2.ip6, "Established"]],
    );
    const ipv4Routes = execFileSync("ip", ["-n", n1.ns, "-4", "route", "show", "proto", "147"], {
      encoding: "utf8",
    });
    assert.equal(ipv4Routes.trim(), "", "no IPv4 route from BGP");
    // A pod on each node through the conflist the agent wrote: one IPv6 address, an IPv6 default route.
    const pods = await Promise.all(
      agents.map(async (a, i) => {
        const conf = JSON.parse(readFileSync(join(a.stateDir, "10-strata.conflist"), "utf8")) as ConfList;
        const pod = nss.create(`pod${i + 1}`);
        const att = { containerId: `c-v6only-${i + 1}`, netns: nss.path(pod), ifName: "eth0" };
        const r = (await addNetworkList(conf, att, sandbox.runtime(a.ns))) as CniResult;
        return { ns: pod, result: r };
      }),
    );
    for (const [i, p] of pods.entries()) {
      const lease = leased[i] as (typeof leased)[0];
      assert.equal(p.result.ips.length, 1, JSON.stringify(p.result.ips));
      const v6 = p.result.ips[0]?.address ?? "";
      assert.ok(v6.startsWith(lease.subnet.replace("::/64", ":")), v6);
      assert.deepEqual(
        (p.result.routes ?? []).map((r) => r.dst),
        ["::/0"],
      );
    }
    const addr6 = (i: number) => (pods[i]?.result.ips[0]?.address ?? "").split("/")[0] as string;
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
    // Masquerade: IPv6 pods leaving the cluster CIDR are rewritten by an ip6 table.
    const nat = execFileSync("ip", ["netns", "exec", n1.ns, "nft", "list", "table", "ip6", "strata-nat"], {
      encoding: "utf8",
    });
    assert.match(nat, /ip6 saddr fd00:10:244::\/56 ip6 daddr != fd00:10:244::\/56 masquerade/);

    // kill -9 of n2's agent and a restart: its subnet is n2's still (subnet.json, the datastore),
    // n1 kept the route meanwhile, n2's kernel kept n1's route (graceful restart).
    n2.proc.kill("SIGKILL");
    await new Promise((r) => n2.proc.once("exit", r));
    assert.match(kernelRoute(n1.ns, s2), new RegExp(`via ${n2.ip6}`), "n1 keeps n2's route");
    const restarted = startAgent(members[1] as (typeof members)[number], 1, n2.stateDir);
    await eventually(
      () => jsonInNetns<Health>(n2.ns, "/healthz").firstReconcileAt !== undefined,
      "n2's restarted agent serves and has reconciled",
      { timeoutMs: 20_000 },
    );
    assert.equal(restarted.exitCode, null, "the restarted agent runs");
    assert.equal(jsonInNetns<Health>(n2.ns, "/healthz").subnet, l2.subnet);
    const again = JSON.parse(readFileSync(join(n2.stateDir, "subnet.json"), "utf8")) as typeof l2;
    assert.equal(again.subnet, l2.subnet, "n2 kept its subnet");
    assert.match(kernelRoute(n2.ns, s1), new RegExp(`via ${n1.ip6} .*proto 147`), "n2 kept n1's route");
    await eventually(
      () =>
        (jsonInNetns<Health>(n2.ns, "/healthz").backend?.bgpSessions ?? []).some(
          (s) => s.peer === n1.ip6 && s.state === "Established",
        ),
      "the IPv6 session is back",
      { timeoutMs: 20_000 },
    );
    assert.ok(ping6(pods[0]?.ns as string, addr6(1)), "pod on n1 → pod on n2 after the restart");
  });
});
