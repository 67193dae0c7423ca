/**
 * What a lease change costs a mesh node's import policy (issue 16: the 200-node mesh's agents
 * re-ran it over every route at each lease burst). The leases arrive in bursts of B until all N
 * are known, as while a cluster comes up; after each burst, each new node's session announces its
 * subnet (next hop its address), so a node's RIB grows to one route per other node. Each burst
 * builds the policy from every lease and runs it over the RIB: over every route (the reference,
 * what the agent did before) or over the routes policyScope selects (incremental), in the same
 * run. Printed: ms per burst (median over the bursts, median of the rounds) and total ms for
 * the whole arrival; the ratio is reference / incremental, of the medians per burst (totals take
 * every GC pause; a burst of N - 1 or more is one call, the first: left out). Both RIBs must end the same.
 *
 * (A route whose owner's lease is not known yet is nobody's prefix, re-run at every change: the
 * sessions come from the leases, so that is rare, and left out here.)
 *
 * Then BgpBackend.peersChanged as a whole (policy, sessions, the leased-subnet table, retention,
 * kernel routes), on a started backend behind one router (an in-process speaker on loopback that
 * passes on every node's subnet): the same bursts, timed per call, incremental (the same node
 * object at each call: only the subnets whose holder changed are walked) against a walk over every
 * route (a new node object at each call, as every call did before; it also empties the backend's
 * kernel-route cache, so the reference pays route building the old code did not).
 *
 * Usage: node dist/bench/bgp-policy-scope.js [--nodes 50,200,1000] [--bursts 1,10,50] [--rounds 5]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { pino } from "pino";
import type { LocalNode } from "../src/backends/api.js";
import { BgpBackend } from "../src/backends/bgp/bgp.js";
import { buildClusterPolicy, type ClusterPolicy } from "../src/backends/bgp/cluster-import.js";
import { policyScope } from "../src/backends/bgp/policy-scope.js";
import type { PeerInfo } from "../src/bgp/rib/path.js";
import { Rib } from "../src/bgp/rib/rib.js";
import { BgpSpeaker } from "../src/bgp/speaker/speaker.js";
import type { NodeLease } from "../src/cluster/node-lease.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "50,200,1000" },
    bursts: { type: "string", default: "1,10,50" },
    rounds: { type: "string", default: "5" },
  },
});
const list = (s: string) => s.split(",").map(Number);
const rounds = Number(values.rounds);

const lease = (i: number): NodeLease => ({
  node: `n${i}`,
  subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24`,
  publicIp: `172.16.${(i >> 8) & 255}.${i & 255}`,
  publicPrefix: 16,
  backend: "bgp",
  backendData: {},
});
const peerOf = (l: NodeLease): PeerInfo => ({
  id: l.publicIp,
  routerId: l.publicIp,
  address: l.publicIp,
  asn: 64512,
  ibgp: true,
  rrClient: false,
});
const options = { routeReflectors: [] as string[], externalWithList: new Set<string>() };

/** One arrival of every lease in bursts of `burst`, on a fresh RIB; ms per burst. */
function arrival(n: number, burst: number, incremental: boolean): { perBurst: number[]; rib: Rib } {
  const leases = Array.from({ length: n }, (_, i) => lease(i + 1));
  const self = leases[0] as NodeLease;
  const rib = new Rib({ asn: 64512, routerId: self.publicIp });
  let before: ClusterPolicy = buildClusterPolicy(self, [self], options);
  rib.setImportPolicy(before.policy);
  // Arrival order shuffled the same way in both arms (a fixed stride through the nodes).
  const order = leases.slice(1).map((_, k) => leases[1 + ((k * 7919) % (n - 1))] as NodeLease);
  const perBurst: number[] = [];
  for (let k = 0; k < order.length; k += burst) {
    const arrived = order.slice(k, k + burst);
    const leased = [self, ...order.slice(0, k + burst)];
    const t = performance.now();
    const next = buildClusterPolicy(self, leased, options);
    if (incremental) {
      const scope = policyScope(before, next);
      if (scope !== "none") rib.setImportPolicy(next.policy, scope === "all" ? undefined : scope);
    } else rib.setImportPolicy(next.policy);
    perBurst.push(performance.now() - t);
    before = next;
    // Their sessions come up (the lease made them): each announces its subnet (not timed).
    for (const l of arrived)
      rib.receive(peerOf(l), {
        type: "update",
        withdrawn: [],
        attributes: { origin: "igp", asPath: [], nextHop: l.publicIp },
        nlri: [l.subnet],
      });
  }
  return { perBurst, rib };
}

const f = (x: number, w = 10) => x.toFixed(3).padStart(w);
console.log(
  `import policy per lease burst: full re-run (reference) vs policyScope (incremental); ${rounds} rounds`,
);
console.log(
  `${"nodes".padStart(6)} ${"burst".padStart(6)} ${"full ms/burst".padStart(14)} ${"incr ms/burst".padStart(14)} ${"full total".padStart(11)} ${"incr total".padStart(11)}  ratio`,
);
for (const n of list(values.nodes)) {
  for (const burst of list(values.bursts).filter((b) => b < n - 1)) {
    const rows: { full: number[]; incr: number[]; fullTotal: number[]; incrTotal: number[] } = {
      full: [],
      incr: [],
      fullTotal: [],
      incrTotal: [],
    };
    for (let r = 0; r < rounds + 1; r++) {
      const full = arrival(n, burst, false);
      const incr = arrival(n, burst, true);
      if (full.rib.size !== n - 1 || incr.rib.size !== n - 1)
        throw new Error(
          `${n} nodes, burst ${burst}: ${full.rib.size} / ${incr.rib.size} routes, not ${n - 1}`,
        );
      if (r === 0) continue; // warm-up
      rows.full.push(median(full.perBurst));
      rows.incr.push(median(incr.perBurst));
      rows.fullTotal.push(full.perBurst.reduce((a, b) => a + b, 0));
      rows.incrTotal.push(incr.perBurst.reduce((a, b) => a + b, 0));
    }
    const ratio = median(rows.full) / median(rows.incr);
    console.log(
      `${String(n).padStart(6)} ${String(burst).padStart(6)} ${f(median(rows.full), 14)} ${f(median(rows.incr), 14)} ${f(median(rows.fullTotal), 11)} ${f(median(rows.incrTotal), 11)}  ${ratio.toFixed(1)}×`,
    );
  }
}

/** peersChanged per burst on two started backends behind one router: ms per call, [incremental, walk]. */
async function backendArrival(n: number, burst: number): Promise<[number[], number[]]> {
  const leases = Array.from({ length: n }, (_, i) => ({
    ...lease(i + 1),
    publicIp: `127.1.${(i + 1) >> 8}.${(i + 1) & 255}`,
    publicPrefix: 8,
  }));
  const router = new BgpSpeaker({
    asn: 64512,
    routerId: "127.0.0.52",
    holdTime: 90,
    listen: { host: "127.0.0.52", port: 0 },
    localAddress: "127.0.0.52",
    nextHop: "127.0.0.52",
  });
  const locals: LocalNode[] = ["127.0.0.51", "127.0.0.53"].map((publicIp, i) => ({
    lease: { ...lease(60000 + i), publicIp, publicPrefix: 8 },
    underlayDev: "lo",
    underlayMtu: 65536,
  }));
  await router.start(locals.map((l) => ({ address: l.lease.publicIp, asn: 64512, passive: true })));
  for (const l of leases.slice(1)) router.originate(l.subnet);
  const abort = new AbortController();
  const backends = locals.map(
    () =>
      new BgpBackend({
        asn: 64512,
        mesh: false,
        routeReflectors: [],
        external: [{ address: "127.0.0.52", asn: 64512, port: router.port }],
        clusterId: "127.0.0.51",
        holdTime: 90,
        connectRetrySeconds: 0.2,
        port: 0,
      }),
  );
  try {
    for (const [i, b] of backends.entries())
      await b.start({
        local: locals[i] as LocalNode,
        kernel: createIproute2Kernel(),
        netns: { kind: "current" },
        logger: pino({ level: "silent" }),
        signal: abort.signal,
        onChange: () => {},
      });
    const order = leases.slice(1).map((_, k) => leases[1 + ((k * 7919) % (n - 1))] as NodeLease);
    const times: [number[], number[]] = [[], []];
    for (let k = 0; k < order.length; k += burst) {
      const peers = order.slice(0, k + burst);
      // Which goes first alternates (the first call after the wait runs on colder caches).
      for (const i of k % (2 * burst) === 0 ? [0, 1] : [1, 0]) {
        const b = backends[i] as BgpBackend;
        const local = locals[i] as LocalNode;
        const t = performance.now();
        b.peersChanged(i === 0 ? local : { ...local }, peers);
        times[i]?.push(performance.now() - t);
      }
      // The newly owned routes are admitted: wait until both backends route every leased subnet.
      for (
        let w = 0;
        backends.some((b, i) => b.desired(locals[i] as LocalNode, peers).routes.length < peers.length);
        w++
      ) {
        if (w > 2000) throw new Error(`${n} nodes: the routes of ${peers.length} leases did not come`);
        await sleep(5);
      }
    }
    return times;
  } finally {
    abort.abort();
    await Promise.all(backends.map((b) => b.stop()));
    await router.stop();
  }
}

console.log(
  `BgpBackend.peersChanged per lease burst: walk over every route (reference) vs incremental; ${rounds} rounds`,
);
console.log(
  `${"nodes".padStart(6)} ${"burst".padStart(6)} ${"walk ms/call".padStart(14)} ${"incr ms/call".padStart(14)} ${"walk total".padStart(11)} ${"incr total".padStart(11)}  ratio`,
);
for (const n of list(values.nodes)) {
  for (const burst of list(values.bursts).filter((b) => b < n - 1)) {
    const walk: number[] = [];
    const incr: number[] = [];
    const walkTotal: number[] = [];
    const incrTotal: number[] = [];
    for (let r = 0; r < rounds + 1; r++) {
      const [i, w] = await backendArrival(n, burst);
      if (r === 0) continue; // warm-up
      incr.push(median(i));
      walk.push(median(w));
      incrTotal.push(i.reduce((a, b) => a + b, 0));
      walkTotal.push(w.reduce((a, b) => a + b, 0));
    }
    console.log(
      `${String(n).padStart(6)} ${String(burst).padStart(6)} ${f(median(walk), 14)} ${f(median(incr), 14)} ${f(median(walkTotal), 11)} ${f(median(incrTotal), 11)}  ${(median(walk) / median(incr)).toFixed(1)}×`,
    );
  }
}
