import assert from "node:assert/strict";
import { test } from "node:test";
import { healthyVxlan, lease, now } from "../../test/support/doctor-facts.js";
import type { NodeLease } from "../cluster/node-lease.js";
import { checkAgentHealth, checkReconcile } from "./checks/agent.js";
import { checkBgp } from "./checks/bgp.js";
import { checkIpam } from "./checks/ipam.js";
import { checkLeases } from "./checks/leases.js";
import { checkDfProbes, checkPodMtu } from "./checks/mtu.js";
import { checkChecksumOffload, kernelVersion } from "./checks/offload.js";
import { checkRoutes, checkVxlanEntries, checkVxlanPort } from "./checks/paths.js";
import { checkRpFilter } from "./checks/rp-filter.js";
import { checkSourceGuard } from "./checks/source-guard.js";
import type { NodeFacts } from "./facts.js";
import { formatVerdicts } from "./format.js";
import { runChecks } from "./run-checks.js";
import type { Verdict } from "./verdict.js";

const problems = (vs: readonly Verdict[]) => vs.filter((v) => !v.ok);
const only = (vs: readonly Verdict[]): Verdict => {
  const bad = problems(vs);
  assert.equal(bad.length, 1, `one problem expected, got ${JSON.stringify(bad)}`);
  return bad[0] as Verdict;
};
const withKernel = (f: NodeFacts, k: Partial<NodeFacts["kernel"]>): NodeFacts => ({
  ...f,
  kernel: { ...f.kernel, ...k },
});

test("a healthy vxlan node: every check ok, none skipped, and the text says so", () => {
  const vs = runChecks(healthyVxlan());
  assert.deepEqual(problems(vs), []);
  assert.equal(vs.filter((v) => v.skipped).length, 0);
  assert.match(formatVerdicts(vs), /all \d+ checks ok/);
});

test("agent: nothing on the health port, or a 503 with the agent's own problems", () => {
  const f = healthyVxlan();
  const down = checkAgentHealth({ ...f, agent: { port: 9947, error: "ECONNREFUSED" } });
  assert.equal(down.reason, "agent-unreachable");
  assert.match(down.text, /127\.0\.0\.1:9947 \(ECONNREFUSED\)/);
  const sick = checkAgentHealth({
    ...f,
    agent: {
      ...f.agent,
      httpStatus: 503,
      health: { ...f.agent.health, ok: false, problems: ["no subnet leased yet"] },
    },
  });
  assert.equal(sick.reason, "agent-unhealthy");
  assert.match(sick.text, /503: no subnet leased yet/);
});

test("reconcile: failed last pass, or none for more than three resync intervals", () => {
  const f = healthyVxlan();
  const h = f.agent.health;
  const at = (iso: string, okPass = true) => ({
    ...f,
    agent: {
      ...f.agent,
      health: { ...h, lastReconcile: { ok: okPass, at: iso, error: okPass ? undefined : "EPERM" } },
    },
  });
  assert.equal(checkReconcile(at("2026-11-30T11:59:35Z")).ok, true); // 25 s: within 30 s
  const stale = checkReconcile(at("2026-11-30T11:58:00Z"));
  assert.equal(stale.reason, "reconcile-stale");
  assert.match(stale.text, /120 s ago/);
  assert.match(checkReconcile(at("2026-11-30T11:59:59Z", false)).text, /failed: EPERM/);
});

test("pod MTU: above underlay MTU minus the VXLAN overhead is a problem; a conflist out of step too", () => {
  const f = healthyVxlan();
  assert.equal(checkPodMtu(f).ok, true);
  const big = checkPodMtu({ ...f, agent: { ...f.agent, health: { ...f.agent.health, podMtu: 1500 } } });
  assert.equal(big.reason, "mtu-config");
  assert.match(big.text, /1500 > underlay MTU 1500 − 50/);
  const links = f.kernel.links.map((l) => (l.name === "eth0" ? { ...l, mtu: 1400 } : l));
  assert.match(checkPodMtu(withKernel(f, { links })).text, /= 1350/);
  const stale = checkPodMtu({
    ...f,
    stateDir: { ...(f.stateDir as NonNullable<NodeFacts["stateDir"]>), conflistMtu: 1500 },
  });
  assert.match(stale.text, /conflist gives pods MTU 1500/);
});

test("DF probes: a probe passing only smaller packets names the largest size and the link MTU", () => {
  const f = healthyVxlan();
  const probes = f.probes.map((p) =>
    p.peer === "n2" ? { ...p, ok: false, largest: p.kind === "overlay" ? 1350 : 1400 } : p,
  );
  const vs = problems(checkDfProbes({ ...f, probes }));
  assert.equal(vs.length, 2);
  assert.ok(vs.every((v) => v.reason === "mtu-exceeded" && v.peer === "n2"));
  assert.match(
    vs[0]?.text ?? "",
    /underlay to n2 192\.168\.10\.12: DF packets of 1500 B do not pass, 1400 B do: the path carries at most 1400 B/,
  );
  // The overlay's 1350 B inner packets are 1400 B on the underlay.
  assert.match(vs[1]?.text ?? "", /the path carries at most 1400 B/);
});

test("routes: a missing route to a peer's pods, and one through the wrong device", () => {
  const f = healthyVxlan();
  const gone = only(
    checkRoutes(withKernel(f, { routes: f.kernel.routes.filter((r) => r.dst !== "10.244.2.0/24") })),
  );
  assert.equal(gone.reason, "pod-route-missing");
  assert.equal(gone.peer, "n2");
  assert.match(gone.text, /no route to n2 \(192\.168\.10\.12\)'s pods 10\.244\.2\.0\/24/);
  const routes = f.kernel.routes.map((r) =>
    r.dst === "10.244.3.0/24" ? { dst: r.dst, via: "192.168.10.13", dev: "eth0" } : r,
  );
  const wrong = only(checkRoutes(withKernel(f, { routes })));
  assert.match(
    wrong.text,
    /goes out of eth0 via 192\.168\.10\.13, the vxlan model sends them through strata\.1/,
  );
});

test("routes, dual stack: a peer's IPv6 pod subnet needs its route too; a node without one of its own does not look", () => {
  const six = (i: number): NodeLease => ({
    ...lease(`n${i}`, i, "bgp"),
    subnet6: `fd00:10:244:${i}::/64`,
    publicIp6: `fd00:192:168:10::${10 + i}`,
  });
  const base = healthyVxlan();
  const routes = [2, 3].flatMap((i) => [
    { dst: `10.244.${i}.0/24`, via: `192.168.10.${10 + i}`, dev: "eth0", proto: "147" },
    { dst: `fd00:10:244:${i}::/64`, via: `fd00:192:168:10::${10 + i}`, dev: "eth0", proto: "147" },
  ]);
  const f: NodeFacts = {
    ...withKernel(base, { routes }),
    agent: { ...base.agent, health: { ...base.agent.health, model: "bgp" } },
    cluster: { leases: [six(1), six(2), six(3)], rejected: [] },
  };
  const fine = (g: NodeFacts) => {
    const vs = checkRoutes(g);
    assert.deepEqual(problems(vs), []);
    return vs[0]?.text ?? "";
  };
  assert.match(fine(f), /^routes to 4 peer subnets present$/);
  const gone = only(
    checkRoutes(withKernel(f, { routes: routes.filter((r) => r.dst !== "fd00:10:244:3::/64") })),
  );
  assert.equal(gone.reason, "pod-route-missing");
  assert.match(gone.text, /no route to n3 \(192\.168\.10\.13\)'s pods fd00:10:244:3::\/64/);
  const v4only = { ...f, cluster: { leases: [lease("n1", 1, "bgp"), six(2), six(3)], rejected: [] } };
  const v4routes = routes.filter((r) => !r.dst.includes(":"));
  assert.match(fine(withKernel(v4only, { routes: v4routes })), /^routes to 2 peer subnets present$/);
});

test("vxlan entries: FDB entry missing or pointing elsewhere, neighbour missing", () => {
  const f = healthyVxlan();
  const noFdb = only(
    checkVxlanEntries(withKernel(f, { fdb: f.kernel.fdb.filter((e) => e.dst !== "192.168.10.13") })),
  );
  assert.equal(noFdb.reason, "fdb-missing");
  assert.equal(noFdb.peer, "n3");
  assert.match(noFdb.fix ?? "", /bridge fdb append 02:00:00:00:00:03 dev strata\.1 dst 192\.168\.10\.13/);
  const moved = f.kernel.fdb.map((e) => (e.dst === "192.168.10.13" ? { ...e, dst: "192.168.10.99" } : e));
  assert.match(
    only(checkVxlanEntries(withKernel(f, { fdb: moved }))).text,
    /to 192\.168\.10\.99, n3 is at 192\.168\.10\.13/,
  );
  const noNeigh = only(checkVxlanEntries(withKernel(f, { neighbours: f.kernel.neighbours.slice(1) })));
  assert.equal(noNeigh.reason, "vtep-neighbour-missing");
});

test("vxlan port: blamed only when nothing comes back and entries, routes and underlay are fine", () => {
  const f = healthyVxlan();
  const probes = f.probes.map((p) =>
    p.peer === "n3" && p.kind === "overlay" ? { ...p, ok: false, largest: 0 } : p,
  );
  const blocked = only(checkVxlanPort({ ...f, probes }, [], []));
  assert.equal(blocked.reason, "vxlan-port-blocked");
  assert.match(blocked.text, /UDP 8472/);
  const fdb = f.kernel.fdb.filter((e) => e.dst !== "192.168.10.13");
  const g = withKernel({ ...f, probes }, { fdb });
  assert.deepEqual(problems(checkVxlanPort(g, checkVxlanEntries(g), checkRoutes(g))), []);
  assert.equal(checkVxlanPort(f, [], [])[0]?.ok, true);
});

test("checksum offload: on with a kernel before 5.7 is the 63 s bug; on with a newer kernel or off is fine", () => {
  const f = healthyVxlan();
  const old = only(checkChecksumOffload(withKernel(f, { release: "5.4.0-42-generic" })));
  assert.equal(old.reason, "vxlan-checksum-offload");
  assert.match(old.fix ?? "", /ethtool -K strata\.1 tx-checksum-ip-generic off/);
  assert.equal(checkChecksumOffload(f)[0]?.ok, true);
  const off = withKernel(f, {
    release: "4.19.0",
    offload: { "strata.1": { "tx-checksum-ip-generic": false } },
  });
  assert.equal(checkChecksumOffload(off)[0]?.ok, true);
  assert.deepEqual(kernelVersion("5.10.0-28-amd64"), [5, 10]);
});

test("rp_filter: strict drops a peer's pods when the route back leaves by another device; loose does not", () => {
  const f = healthyVxlan();
  const asym = f.kernel.lookups.map((l) =>
    l.dst === "10.244.2.1" ? { dst: l.dst, dev: "eth0", via: "192.168.10.12" } : l,
  );
  assert.deepEqual(problems(checkRpFilter(withKernel(f, { lookups: asym }))), []); // off: the asymmetric path works
  const strict = only(
    checkRpFilter(withKernel(f, { lookups: asym, rpFilter: { all: 1, eth0: 0, "strata.1": 0 } })),
  );
  assert.equal(strict.reason, "rp-filter-drop");
  assert.equal(strict.peer, "n2");
  assert.match(
    strict.text,
    /rp_filter 1 \(strict\) on strata\.1 drops n2 .* arrives on strata\.1, the route back to 10\.244\.2\.0\/24 leaves by eth0/,
  );
  assert.match(strict.fix ?? "", /net\.ipv4\.conf\.all\.rp_filter=2/);
  const loose = withKernel(f, { lookups: asym, rpFilter: { all: 2 } });
  assert.deepEqual(problems(checkRpFilter(loose)), []);
  assert.deepEqual(problems(checkRpFilter(withKernel(f, { rpFilter: { all: 1 } }))), []); // symmetric
});

const bgpNode = (sessions: object[], local = "192.168.10.11"): NodeFacts => {
  const f = healthyVxlan();
  const leases = [lease("n1", 1, "bgp"), lease("n2", 2, "bgp"), lease("n3", 3, "bgp")];
  return {
    ...f,
    cluster: { leases, rejected: [] },
    agent: {
      ...f.agent,
      health: {
        ...f.agent.health,
        model: "bgp",
        backend: { bgpAsn: 64512, bgpLocalAddress: local, bgpSessions: sessions as never },
      },
    },
  };
};
const session = (peer: string, state: string, lastDown?: string) => ({
  peer,
  state,
  asn: 64512,
  prefixes: 1,
  rejected: 0,
  rejectedTotal: 0,
  md5: false,
  ...(lastDown ? { lastDown } : {}),
});

test("bgp: each session not Established names its likely cause", () => {
  const up = bgpNode([session("192.168.10.12", "Established"), session("192.168.10.13", "Established")]);
  assert.deepEqual(problems(checkBgp(up)), []);
  const cause = (s: object, f?: (n: NodeFacts) => NodeFacts) => {
    const n = bgpNode([s]);
    return only(checkBgp(f ? f(n) : n)).text;
  };
  assert.match(cause(session("192.168.10.12", "OpenSent", "sent NOTIFICATION 2/2")), /AS mismatch/);
  assert.match(cause(session("192.168.10.12", "Active", "sent NOTIFICATION 4/0")), /hold timer expired/);
  assert.match(
    cause(session("192.168.10.12", "Connect", "connect EHOSTUNREACH 192.168.10.12:179")),
    /does not answer/,
  );
  assert.match(
    cause(session("192.168.10.12", "Active"), (n) =>
      withKernel(n, { lookups: [{ dst: "192.168.10.12", error: "Network is unreachable" }] }),
    ),
    /no route to the peer 192\.168\.10\.12 \(Network is unreachable\)/,
  );
  const mismatch = { ...session("192.168.10.13", "OpenSent"), asn: 65000 };
  assert.match(cause(mismatch), /AS mismatch: configured as AS 65000, n3 announces AS 64512/);
});

test("bgp: the speaker's local address gone from the node is named even while sessions still look up", () => {
  const v = only(checkBgp(bgpNode([session("192.168.10.12", "Established")], "192.168.10.99")));
  assert.equal(v.reason, "bgp-local-address-missing");
  assert.match(v.text, /192\.168\.10\.99 is not on this node/);
});

test("leases: a rejected (overlapping) lease, this node without one, its own close to expiry", () => {
  const f = healthyVxlan();
  const c = f.cluster as NonNullable<NodeFacts["cluster"]>;
  const overlap = only(
    checkLeases({
      ...f,
      cluster: {
        ...c,
        rejected: [
          {
            key: "/strata/subnets/10.244.2.0-23",
            node: "n9",
            subnet: "10.244.2.0/23",
            reason: "overlap",
            detail: "overlaps 10.244.2.0/24 of n2",
            winner: "/strata/subnets/10.244.2.0-24",
          },
        ],
      },
    }),
  );
  assert.equal(overlap.reason, "lease-overlap");
  assert.match(overlap.fix ?? "", /strata node remove n9/);
  const mine = only(checkLeases({ ...f, cluster: { ...c, leases: c.leases.slice(1) } }));
  assert.match(mine.text, /n1 holds no valid lease/);
  const renewedAt = new Date(now - 20 * 3600 * 1000).toISOString();
  const expiring = only(
    checkLeases({
      ...f,
      agent: { ...f.agent, health: { ...f.agent.health, lease: { ttlSeconds: 86400, renewedAt } } },
    }),
  );
  assert.equal(expiring.reason, "lease-expiring");
  assert.match(expiring.text, /expires in 14400 s/);
});

test("ipam: a reservation whose pod interface is gone is an orphan; checks needing peers are skipped without a datastore", () => {
  const f = healthyVxlan();
  const s = f.stateDir as NonNullable<NodeFacts["stateDir"]>;
  const orphan = only(
    checkIpam({
      ...f,
      stateDir: {
        ...s,
        reservations: [
          ...s.reservations,
          { ip: "10.244.1.9", containerId: "gone", ifName: "eth0", hostVeth: "vethdeadbeef000" },
        ],
      },
    }),
  );
  assert.equal(orphan.reason, "ipam-orphan");
  assert.match(
    orphan.text,
    /10\.244\.1\.9 is reserved for container gone \(eth0\) but its pod interface vethdeadbeef000 does not exist/,
  );
  const vs = runChecks({ ...f, cluster: undefined, probes: [] });
  assert.deepEqual(problems(vs), []);
  assert.ok(vs.filter((v) => v.skipped).length >= 4);
});

test("source guard: drops while doctor looks are a forging pod now; older drops are history; unreadable counters skip", () => {
  const f = healthyVxlan();
  const quiet = checkSourceGuard(f);
  assert.deepEqual(problems(quiet), []);
  assert.match(quiet[0]?.text ?? "", /no forged source in the last 4 s \(3 dropped earlier: ipv4 3\)/);
  const forging = only(
    checkSourceGuard({
      ...f,
      sourceGuard: {
        before: { ipv4: 3, ipv6: 0, arp: 0, other: 0 },
        after: { ipv4: 8, ipv6: 1, arp: 0, other: 0 },
        seconds: 4.2,
      },
    }),
  );
  assert.equal(forging.reason, "spoofed-source");
  assert.match(
    forging.text,
    /6 packets dropped in the last 4 s \(ipv4 5, ipv6 1; 9 since the guard was set up\)/,
  );
  assert.match(forging.fix ?? "", /strata lab trace/);
  const unread = checkSourceGuard({ ...f, sourceGuard: { seconds: 1, error: "nft: not found" } });
  assert.equal(unread[0]?.skipped, true);
  assert.match(unread[0]?.text ?? "", /nft: not found/);
});
