import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { bgpLease } from "../../../test/support/leases.js";
import { loopbackSpeakers } from "../../../test/support/loopback-speakers.js";
import { prng } from "../../../test/support/prng.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { eventually } from "../../common/eventually.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import type { LocalNode } from "../api.js";
import { BgpBackend } from "./bgp.js";

/**
 * peersChanged follows only the subnets whose holder changed (leased-subnets.ts) when the node is
 * the same; given a new LocalNode object it walks every route as before. Two backends behind one
 * router get the same lease changes, one incremental and one walking: their routes and retained
 * routes must be the same after every change.
 */
const speakers = loopbackSpeakers("10.96.1");
after(() => speakers.stopAll());

const lease = bgpLease;

test("incremental lease changes leave the routes and retained routes a full walk gives", async () => {
  // The router passes on every pool subnet (next hop itself); the backends accept those a node leases.
  const router = await speakers.make(92, { nextHop: "127.0.0.92" });
  const pool = [...Array(12).keys()].map((s) => `10.244.${s + 2}.0/24`);
  const locals: LocalNode[] = [
    { lease: lease("a", "10.244.100.0/24", "127.0.0.91"), underlayDev: "lo", underlayMtu: 65536 },
    { lease: lease("b", "10.244.101.0/24", "127.0.0.93"), underlayDev: "lo", underlayMtu: 65536 },
  ];
  router.speaker.setPeers(locals.map((l) => ({ address: l.lease.publicIp, asn: 64512, passive: true })));
  const abort = new AbortController();
  const backends = locals.map(
    () =>
      new BgpBackend({
        asn: 64512,
        mesh: false,
        routeReflectors: [],
        external: [speakers.peerOf(router)],
        clusterId: "127.0.0.91",
        holdTime: 9,
        connectRetrySeconds: 0.2,
        port: 0,
      }),
  );
  for (const [i, b] of backends.entries())
    await b.start({
      local: locals[i] as LocalNode,
      kernel: createIproute2Kernel(),
      netns: { kind: "current" },
      logger: pino({ level: "silent" }),
      signal: abort.signal,
      onChange: () => {},
    });
  const [incremental, walking] = backends as [BgpBackend, BgpBackend];
  const [localA, localB] = locals as [LocalNode, LocalNode];
  try {
    for (const s of pool) router.speaker.originate(s);
    const rnd = prng(7);
    const leases = new Map<number, NodeLease>();
    const announced = new Set(pool);
    const view = (b: BgpBackend, l: LocalNode, peers: NodeLease[]) => ({
      routes: b.desired(l, peers).routes,
      retained: b.status().bgpRetainedRoutes,
    });
    for (let step = 0; step < 40; step++) {
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const i = Math.floor(rnd() * 10);
        const l = leases.get(i);
        const op = rnd();
        const free = pool.filter((s) => ![...leases.values()].some((x) => x.subnet === s));
        if (l && op < 0.25) leases.delete(i);
        else if (l && op < 0.4)
          leases.set(i, { ...l }); // the same content, a new object
        else if (l && op < 0.6)
          leases.set(i, { ...l, publicIp: `127.0.1.${i + 100 + step}` }); // moved
        else if (free.length > 0)
          leases.set(i, lease(`n${i}`, free[Math.floor(rnd() * free.length)] as string, `127.0.1.${i}`));
      }
      // The router withdraws or announces again a subnet now and then (withdrawn: retained while leased).
      const s = pool[Math.floor(rnd() * pool.length)] as string;
      if (rnd() < 0.3) {
        if (announced.delete(s)) router.speaker.withdraw(s);
        else {
          announced.add(s);
          router.speaker.originate(s);
        }
      }
      const peers = [...leases.values()];
      incremental.peersChanged(localA, peers);
      walking.peersChanged({ ...localB }, peers); // a new node object: every route walked
      const leased = peers.filter((p) => announced.has(p.subnet)).map((p) => p.subnet);
      await eventually(() => {
        const a = view(incremental, localA, peers);
        const dsts = new Set(a.routes.map((r) => r.dst));
        return (
          leased.every((p) => dsts.has(p)) &&
          JSON.stringify(a) === JSON.stringify(view(walking, localB, peers))
        );
      }, `step ${step}: both routes to every announced leased subnet, the same`);
      await sleep(50);
      assert.deepEqual(view(incremental, localA, peers), view(walking, localB, peers), `step ${step}`);
    }
  } finally {
    abort.abort();
    await Promise.all(backends.map((b) => b.stop()));
  }
});
