import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { numberedLease } from "../../../test/support/leases.js";
import { prng } from "../../../test/support/prng.js";
import type { PathAttributes } from "../../bgp/codec/types.js";
import type { PeerInfo } from "../../bgp/rib/path.js";
import { type ImportScope, Rib } from "../../bgp/rib/rib.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { buildClusterPolicy, type ClusterPolicy } from "./cluster-import.js";
import { policyScope } from "./policy-scope.js";

/**
 * A lease change re-judges only the routes policyScope selects; every verdict (and reason) must be
 * what a run over every route gives. Each case also shows a plausible narrower scope getting it
 * wrong, so the comparison can fail.
 */
const lease = numberedLease;
const peers = new Map<string, PeerInfo>();
const from = (address: string): PeerInfo => {
  let p = peers.get(address);
  if (!p) {
    p = { id: address, routerId: address, address, asn: 64512, ibgp: true, rrClient: false };
    peers.set(address, p);
  }
  return p;
};
const tor = "192.168.10.1"; // an external peer with an import= list
const self = lease(1, { subnet6: "fd00:1::/64", publicIp6: "fd10::11" });
const options = (reflectors: readonly string[] = ["n3"]) => ({
  routeReflectors: reflectors,
  externalWithList: new Set([tor]),
});
const inputs = (leases: readonly NodeLease[], reflectors?: readonly string[], me = self): ClusterPolicy =>
  buildClusterPolicy(me, [me, ...leases], options(reflectors));
const policyOf = (i: ClusterPolicy) => i.policy;

const announce = (rib: Rib, speaker: string, prefix: string, nextHop: string) => {
  const attributes: PathAttributes = prefix.includes(":")
    ? { origin: "igp", asPath: [], mpReach: { afi: 2, safi: 1, nextHops: [nextHop], nlri: [prefix] } }
    : { origin: "igp", asPath: [], nextHop };
  rib.receive(from(speaker), {
    type: "update",
    withdrawn: [],
    attributes,
    nlri: prefix.includes(":") ? [] : [prefix],
  });
};

/** Everything a verdict shows: the best paths and each peer's refused routes with their reasons. */
function state(rib: Rib): string[] {
  const out: string[] = [];
  for (const [prefix, p] of rib.bestPaths()) out.push(`best ${prefix} ${p.from?.id ?? "local"}`);
  for (const id of peers.keys())
    for (const [prefix, r] of rib.rejected(id)) out.push(`refused ${prefix} from ${id}: ${r.reason}`);
  return out.sort();
}

/** Two RIBs with the same routes under `before`'s policy; then `after`'s over all, and scoped. */
function change(
  before: ClusterPolicy,
  after: ClusterPolicy,
  routes: readonly [speaker: string, prefix: string, nextHop: string][],
  narrower?: ImportScope,
) {
  const ribs = [0, 1, 2].map(() => new Rib({ asn: 64512, routerId: "192.168.10.11" }));
  for (const rib of ribs) {
    rib.setImportPolicy(policyOf(before));
    for (const r of routes) announce(rib, ...r);
  }
  const [full, scoped, narrow] = ribs as [Rib, Rib, Rib];
  const beforeState = state(full);
  const scope = policyScope(before, after);
  full.setImportPolicy(policyOf(after));
  if (scope !== "none") scoped.setImportPolicy(policyOf(after), scope === "all" ? undefined : scope);
  assert.deepEqual(state(scoped), state(full), "scoped re-run = full re-run");
  assert.notDeepEqual(state(full), beforeState, "the change changes a verdict");
  if (narrower) {
    narrow.setImportPolicy(policyOf(after), narrower);
    assert.notDeepEqual(state(narrow), state(full), "the narrower scope misses it");
  }
  return { full, scope };
}

describe("policyScope: the routes a lease change may judge differently", () => {
  const n2 = lease(2);
  const n3 = lease(3);
  const n4 = lease(4);
  // Only the routes whose prefix is a changed lease's subnet (what one might try first).
  const subnetsOnly =
    (...changed: NodeLease[]): ImportScope =>
    (prefix) =>
      changed.some((l) => l.subnet === prefix);

  test("a route refused while its owner's lease was not known is admitted when the lease arrives", () => {
    const { full, scope } = change(
      inputs([n3]),
      inputs([n3, n2]),
      [[n2.publicIp, n2.subnet, n2.publicIp]],
      () => false,
    );
    assert.equal(full.best(n2.subnet)?.from?.address, n2.publicIp);
    assert.equal(typeof scope, "function");
  });

  test("a route whose owner's lease moved to another address is refused (its next hop is the old one)", () => {
    // Reflected by n3 with n2's old address as next hop; the speaker's lease (n3) did not change.
    const moved = lease(2, { publicIp: "192.168.10.99" });
    const { full } = change(
      inputs([n2, n3]),
      inputs([moved, n3]),
      [[n3.publicIp, n2.subnet, n2.publicIp]],
      () => false,
    );
    assert.equal(full.best(n2.subnet), undefined);
    assert.match(full.rejected(n3.publicIp).get(n2.subnet)?.reason ?? "", /next hop 192\.168\.10\.12 is not/);
  });

  test("a route from a speaker whose lease changed is re-judged, though its prefix's owner did not change", () => {
    // From an address no lease has, n2's subnet is a router passing it on: accepted. Then n9 leases
    // that address: a node that is neither the owner nor a reflector may not announce it.
    const n9 = lease(9, { publicIp: "192.168.10.50" });
    const { full } = change(
      inputs([n2, n3]),
      inputs([n2, n3, n9]),
      [["192.168.10.50", n2.subnet, n2.publicIp]],
      subnetsOnly(n9),
    );
    assert.match(
      full.rejected("192.168.10.50").get(n2.subnet)?.reason ?? "",
      /only the owner or a route reflector/,
    );
  });

  test("an unowned prefix that overlaps a new lease is refused", () => {
    const { full } = change(inputs([n2]), inputs([n2, n4]), [[tor, "10.244.4.0/23", tor]], subnetsOnly(n4));
    assert.match(full.rejected(tor).get("10.244.4.0/23")?.reason ?? "", /overlaps node n4's pod subnet/);
  });

  test("a removed lease's subnet and speaker are re-judged; IPv6 subnets count as the IPv4 ones do", () => {
    const d2 = lease(2, { subnet6: "fd00:2::/64", publicIp6: "fd10::12" });
    const { full } = change(
      inputs([d2, n3]),
      inputs([n3]),
      [
        [d2.publicIp, d2.subnet, d2.publicIp],
        [d2.publicIp, "fd00:2::/64", "fd10::12"],
      ],
      subnetsOnly(d2),
    );
    assert.equal(full.size, 0);
  });

  test("nobody's prefix is run again only when it overlaps a changed lease or the order changed", () => {
    const before = inputs([n2, n3]);
    const scope = policyScope(before, inputs([n2, n3, n4]));
    assert.equal(typeof scope, "function");
    const s = scope as ImportScope;
    assert.equal(s("203.0.113.0/24", from(tor)), false, "overlaps no changed lease");
    assert.equal(s("10.244.4.0/23", from(tor)), true, "overlaps n4's");
    assert.equal(s("10.244.0.0/16", from(n2.publicIp)), true);
    assert.equal(
      s(n2.subnet, from(n3.publicIp)),
      false,
      "an unchanged lease's subnet from an unchanged node",
    );
    assert.equal(s(n2.subnet, from(n4.publicIp)), true, "from a changed lease's address");
    const reordered = policyScope(before, inputs([n3, n2, n4])) as ImportScope;
    assert.equal(reordered("203.0.113.0/24", from(tor)), true, "another order");
    assert.equal(reordered(n2.subnet, from(n3.publicIp)), false);
    // Covering n2's and n3's subnets: named for the first in the list, so another order re-judges it.
    change(inputs([n2, n3]), inputs([n3, n2, n4]), [[tor, "10.244.2.0/23", tor]], (p) => p === n4.subnet);
  });

  test("the same leases: nothing to run again; this node's lease or the reflectors changed: everything", () => {
    const a = inputs([n2, n3]);
    assert.equal(policyScope(a, inputs([n2, n3])), "none");
    assert.equal(policyScope(a, inputs([n3, n2])), "none");
    assert.equal(policyScope(undefined, a), "all");
    assert.equal(policyScope(a, inputs([n2, n3], ["n2"])), "all");
    assert.equal(policyScope(a, inputs([n2, n3], undefined, lease(1))), "all");
    assert.equal(typeof policyScope(a, inputs([n2, lease(3)])), "function", "a new object: changed");
    // Two leases with one address (validation refuses that): which one the policy takes depends on order.
    assert.equal(policyScope(a, inputs([n2, n3, lease(5, { publicIp: n2.publicIp })])), "all");
    // A new reflector makes n3's route for n2's subnet acceptable: the full re-run sees it.
    change(inputs([n2, n3], []), inputs([n2, n3]), [[n3.publicIp, n2.subnet, n2.publicIp]], () => false);
  });
});

describe("policyScope: scoped re-runs equal full ones over random lease changes", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}`, () => {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
      const K = 24; // nodes n2..n24 come and go; subnets and addresses are drawn from pools twice that
      const subnet = (j: number) => `10.244.${j}.0/24`;
      const address = (j: number) => `192.168.10.${100 + j}`;
      const leases = new Map<number, NodeLease>();
      const fresh = (i: number): NodeLease | undefined => {
        const used = [...leases.entries()].filter(([k]) => k !== i).map(([, l]) => l);
        const s = pick(
          [...Array(2 * K).keys()].map((j) => j + 2).filter((j) => !used.some((l) => l.subnet === subnet(j))),
        );
        const a = pick([...Array(2 * K).keys()].filter((j) => !used.some((l) => l.publicIp === address(j))));
        if (s === undefined || a === undefined) return undefined;
        return lease(i, {
          subnet: subnet(s),
          publicIp: address(a),
          ...(rnd() < 0.3 ? { subnet6: `fd00:${s}::/64`, publicIp6: `fd10::${100 + a}` } : {}),
        });
      };
      for (let i = 2; i <= K; i++) if (rnd() < 0.6) leases.set(i, fresh(i) as NodeLease);
      let reflectors = ["n3"];
      let current = inputs([...leases.values()], reflectors);
      const full = new Rib({ asn: 64512, routerId: "192.168.10.11" });
      const scoped = new Rib({ asn: 64512, routerId: "192.168.10.11" });
      for (const rib of [full, scoped]) rib.setImportPolicy(policyOf(current));
      const speakers = [tor, "192.168.10.2", ...[...Array(2 * K).keys()].map(address)];
      const randomRoute = (): [string, string, string] => {
        const speaker = pick(speakers);
        const j = Math.floor(rnd() * 2 * K) + 2;
        const v6 = rnd() < 0.2;
        const prefix = v6
          ? pick([`fd00:${j}::/64`, `fd00:${j}::/80`, "fd00::/16"])
          : pick([
              subnet(j),
              subnet(j),
              `10.244.${j}.0/25`,
              "10.244.0.0/20",
              "203.0.113.0/24",
              "10.244.1.0/24",
            ]);
        const nextHop = v6 ? pick([`fd10::${100 + j}`, "fd10::1"]) : pick([speaker, address(j - 2), tor]);
        return [speaker, prefix, nextHop];
      };
      const receive = (n: number) => {
        for (let r = 0; r < n; r++) {
          const route = randomRoute();
          for (const rib of [full, scoped]) announce(rib, ...route);
        }
      };
      receive(300);
      let scopedRuns = 0;
      for (let step = 0; step < 60; step++) {
        const burst = 1 + Math.floor(rnd() * 4);
        for (let b = 0; b < burst; b++) {
          const i = 2 + Math.floor(rnd() * (K - 1));
          const l = leases.get(i);
          const op = rnd();
          if (!l) {
            const n = fresh(i);
            if (n) leases.set(i, n);
          } else if (op < 0.3) leases.delete(i);
          else if (op < 0.5)
            leases.set(i, { ...l }); // the same content, a new object
          else {
            const n = fresh(i);
            if (n) leases.set(i, rnd() < 0.5 ? n : { ...l, publicIp: n.publicIp });
          }
        }
        if (rnd() < 0.05) reflectors = rnd() < 0.5 ? [] : [`n${2 + Math.floor(rnd() * 4)}`];
        // Now and then the same leases in another order (the first overlapped lease is named).
        const list = [...leases.values()];
        if (rnd() < 0.15) list.sort(() => rnd() - 0.5);
        const next = inputs(list, reflectors);
        const scope = policyScope(current, next);
        const policy = policyOf(next);
        full.setImportPolicy(policy);
        if (scope !== "none") scoped.setImportPolicy(policy, scope === "all" ? undefined : scope);
        if (typeof scope === "function") scopedRuns++;
        current = next;
        assert.deepEqual(state(scoped), state(full), `step ${step}`);
        receive(10);
      }
      assert.ok(scopedRuns > 30, `most changes ran scoped (${scopedRuns})`);
    });
  }
});
