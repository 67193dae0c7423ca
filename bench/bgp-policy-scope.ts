/**
 * What a lease change costs a mesh node's import policy (issue 16: the 200-node mesh's agents
 * re-ran it over every route at each lease burst). The leases arrive in bursts of B until all N
 * are known, as while a cluster comes up; after each burst, each new node's session announces its
 * subnet (next hop its address), so a node's RIB grows to one route per other node. Each burst
 * builds the policy from every lease and runs it over the RIB: over every route (the reference,
 * what the agent did before) or over the routes policyScope selects (incremental), in the same
 * run. Printed: ms per burst (median over the bursts, median of the rounds) and total ms for
 * the whole arrival; the ratio is reference / incremental. Both RIBs must end the same.
 *
 * (A route whose owner's lease is not known yet is nobody's prefix, re-run at every change: the
 * sessions come from the leases, so that is rare, and left out here.)
 *
 * Usage: node dist/bench/bgp-policy-scope.js [--nodes 50,200,1000] [--bursts 1,10,50] [--rounds 5]
 */
import { parseArgs } from "node:util";
import { buildClusterPolicy, type ClusterPolicy } from "../src/backends/bgp/cluster-import.js";
import { policyScope } from "../src/backends/bgp/policy-scope.js";
import type { PeerInfo } from "../src/bgp/rib/path.js";
import { Rib } from "../src/bgp/rib/rib.js";
import type { NodeLease } from "../src/cluster/node-lease.js";
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
  for (const burst of list(values.bursts)) {
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
    const ratio = median(rows.fullTotal) / median(rows.incrTotal);
    console.log(
      `${String(n).padStart(6)} ${String(burst).padStart(6)} ${f(median(rows.full), 14)} ${f(median(rows.incr), 14)} ${f(median(rows.fullTotal), 11)} ${f(median(rows.incrTotal), 11)}  ${ratio.toFixed(1)}×`,
    );
  }
}
