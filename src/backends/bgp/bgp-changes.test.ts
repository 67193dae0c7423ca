import assert from "node:assert/strict";
import { after, test } from "node:test";
import { pino } from "pino";
import { bgpLease } from "../../../test/support/leases.js";
import { loopbackSpeakers } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import type { Route } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import type { LocalNode } from "../api.js";
import { BgpBackend } from "./bgp.js";

/**
 * The bgp backend hands on what changed: its desired routes follow the speaker's learned-route
 * changes and the leases, and a pass after a BGP UPDATE gets the changed prefixes alone.
 */
const speakers = loopbackSpeakers("10.97.0");
after(() => speakers.stopAll());

const lease = bgpLease;

test("a BGP UPDATE reaches the agent as the changed route alone; a withdrawn leased route is retained until its lease goes", async () => {
  const n2 = await speakers.make(42, { nextHop: "127.0.0.42" });
  const local: LocalNode = {
    lease: lease("n1", "10.244.1.0/24", "127.0.0.41"),
    underlayDev: "lo",
    underlayMtu: 65536,
  };
  const peer2 = lease("n2", "10.244.2.0/24", "127.0.0.42");
  n2.speaker.setPeers([{ address: local.lease.publicIp, asn: 64512, passive: true }]);
  const backend = new BgpBackend({
    asn: 64512,
    mesh: false,
    routeReflectors: [],
    external: [speakers.peerOf(n2)],
    clusterId: "127.0.0.41",
    holdTime: 9,
    connectRetrySeconds: 0.2,
    port: 0,
  });
  const abort = new AbortController();
  let onChange = 0;
  await backend.start({
    local,
    kernel: createIproute2Kernel(),
    netns: { kind: "current" },
    logger: pino({ level: "silent" }),
    signal: abort.signal,
    onChange: () => onChange++,
  });
  try {
    backend.peersChanged(local, [peer2]);
    n2.speaker.originate(peer2.subnet);
    const seen = new Map<string, Route | undefined>();
    const take = () => {
      for (const [k, v] of backend.takeRouteChanges()) seen.set(k, v);
      return seen;
    };
    const want: Route = { dst: peer2.subnet, via: peer2.publicIp, dev: "lo" };
    await eventually(() => take().has(peer2.subnet), "n2's subnet handed on", { timeoutMs: 10_000 });
    assert.deepEqual(seen, new Map([[peer2.subnet, want]]), "only the changed prefix");
    assert.ok(onChange > 0, "the agent was told");
    assert.deepEqual(backend.takeRouteChanges().size, 0, "handed on once");
    const d = backend.desired(local, [peer2]);
    assert.deepEqual(d.routes, [want]);
    assert.deepEqual(d.unreachable, []);

    // Withdrawn by its owner while it holds the lease: kept (as for a session that dropped).
    n2.speaker.withdraw(peer2.subnet);
    await eventually(
      () => (backend.status().bgpRetainedRoutes as string[]).includes(peer2.subnet),
      "retained after the withdrawal",
    );
    assert.equal(backend.takeRouteChanges().size, 0, "a retained route is no change");
    // The lease goes: the route goes, handed on as a removal.
    backend.peersChanged(local, []);
    assert.deepEqual(backend.takeRouteChanges(), new Map([[peer2.subnet, undefined]]));
    assert.deepEqual(backend.desired(local, []).routes, []);
  } finally {
    abort.abort();
    await backend.stop();
  }
});
