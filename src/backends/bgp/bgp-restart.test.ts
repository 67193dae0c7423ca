import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, test } from "node:test";
import { pino } from "pino";
import { bgpLease } from "../../../test/support/leases.js";
import { loopbackSpeakers } from "../../../test/support/loopback-speakers.js";
import type { PeerConfig } from "../../bgp/speaker/speaker.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { eventually } from "../../common/eventually.js";
import type { Kernel, Route } from "../../kernel/api.js";
import type { LocalNode } from "../api.js";
import { BgpBackend } from "./bgp.js";

/**
 * The bgp backend restarted (RFC 4724 §4.1): the BGP routes an earlier run left in the kernel
 * stay wanted while its speaker waits for End-of-RIB; one whose subnet nobody else leases goes at
 * once; after the peer's End-of-RIB what BGP confirmed stays, the rest goes.
 */
const speakers = loopbackSpeakers("10.96.0");
after(() => speakers.stopAll());

const lease = bgpLease;

/** A local node n1 at 127.0.0.`n` on lo. */
const localAt = (n: number): LocalNode => ({
  lease: lease("n1", "10.244.1.0/24", `127.0.0.${n}`),
  underlayDev: "lo",
  underlayMtu: 65536,
});

/**
 * The bgp backend started again over the routes an earlier run `left` in the kernel (so it
 * restarts: RFC 4724 forwarding state), peering with `external`; `wanted(peers)` is its desired
 * routes as text, `gr()` its graceful-restart status, `stop()` ends it.
 */
async function restartedBackend(
  local: LocalNode,
  left: Route[],
  external: PeerConfig[],
  selectionDeferralSeconds: number,
  topology: { mesh: boolean; routeReflectors: string[]; port: number } = {
    mesh: false,
    routeReflectors: [],
    port: 0,
  },
) {
  const kernel = { routes: async () => left } as unknown as Kernel;
  const backend = new BgpBackend({
    asn: 64512,
    ...topology,
    external,
    clusterId: local.lease.publicIp,
    holdTime: 9,
    connectRetrySeconds: 0.2,
    gracefulRestart: { selectionDeferralSeconds },
  });
  const abort = new AbortController();
  await backend.start({
    local,
    kernel,
    netns: { kind: "current" },
    logger: pino({ level: "silent" }),
    signal: abort.signal,
    onChange: () => {},
  });
  return {
    backend,
    wanted: (peers: NodeLease[]) =>
      backend
        .desired(local, peers)
        .routes.map((r) => `${r.dst} via ${r.via}`)
        .sort(),
    gr: () => backend.status().bgpGracefulRestart as { restarting: boolean; preservedRoutes: number },
    stop: async () => {
      abort.abort();
      await backend.stop();
    },
  };
}

test("a restarted agent keeps its kernel BGP routes until End-of-RIB, bounded by the leases", async () => {
  const n2 = await speakers.make(52, { nextHop: "127.0.0.52" });
  const local = localAt(51);
  const peer2 = lease("n2", "10.244.2.0/24", "127.0.0.52");
  const peer4 = lease("n4", "10.244.4.0/24", "127.0.0.54");
  n2.speaker.originate(peer2.subnet);
  // What the earlier run left: routes to n2's, n3's (lease gone since) and n4's subnets.
  const left: Route[] = [
    { dst: "10.244.2.0/24", via: "127.0.0.52", dev: "lo", proto: "147" },
    { dst: "10.244.3.0/24", via: "127.0.0.53", dev: "lo", proto: "147" },
    { dst: "10.244.4.0/24", via: "127.0.0.54", dev: "lo", proto: "147" },
  ];
  const {
    backend,
    wanted: wantedFor,
    gr,
    stop,
  } = await restartedBackend(local, left, [speakers.peerOf(n2)], 30);
  const wanted = () => wantedFor([peer2, peer4]);
  try {
    assert.equal(gr().restarting, true, "came back as a restarting speaker");
    assert.deepEqual(wanted(), [
      "10.244.2.0/24 via 127.0.0.52",
      "10.244.3.0/24 via 127.0.0.53",
      "10.244.4.0/24 via 127.0.0.54",
    ]);
    // n3's lease is gone: its route goes at once; n2's and n4's stay.
    backend.peersChanged(local, [peer2, peer4]);
    assert.deepEqual(wanted(), ["10.244.2.0/24 via 127.0.0.52", "10.244.4.0/24 via 127.0.0.54"]);
    // n2 takes the session (it refused it so far), sends its table and End-of-RIB: selection runs;
    // n4's route, unconfirmed, goes; n2's is wanted throughout.
    n2.speaker.setPeers([{ address: local.lease.publicIp, asn: 64512, passive: true }]);
    await eventually(() => gr().restarting === false, "selection after n2's End-of-RIB");
    assert.deepEqual(wanted(), ["10.244.2.0/24 via 127.0.0.52"]);
    assert.equal(gr().preservedRoutes, 0);
  } finally {
    await stop();
  }
});

test("selection with a peer whose session is not up yet (restarting too): its subnet's kept route is retained, not dropped", async () => {
  const n2 = await speakers.make(62, { nextHop: "127.0.0.62" });
  const local = localAt(61);
  const peer2 = lease("n2", "10.244.2.0/24", "127.0.0.62");
  const peer4 = lease("n4", "10.244.4.0/24", "127.0.0.64");
  const peer5 = lease("n5", "10.244.5.0/24", "127.0.0.65");
  n2.speaker.originate(peer2.subnet);
  n2.speaker.setPeers([{ address: local.lease.publicIp, asn: 64512, passive: true }]);
  const left: Route[] = [
    { dst: "10.244.2.0/24", via: "127.0.0.62", dev: "lo", proto: "147" },
    { dst: "10.244.4.0/24", via: "127.0.0.64", dev: "lo", proto: "147" },
    { dst: "10.244.5.0/24", via: "127.0.0.65", dev: "lo", proto: "147" },
  ];
  // n5 is a peer too, but nothing answers at its address (its agent is still starting).
  const {
    backend,
    wanted: wantedFor,
    gr,
    stop,
  } = await restartedBackend(local, left, [speakers.peerOf(n2), { address: "127.0.0.65", asn: 64512 }], 1);
  const wanted = () => wantedFor([peer2, peer4, peer5]);
  try {
    backend.peersChanged(local, [peer2, peer4, peer5]);
    await eventually(() => gr().restarting === false, "selection (n2's End-of-RIB, then the deferral timer)");
    // n2's confirmed by BGP; n5's kept (its session is not up); n4, no peer of ours, unconfirmed: gone.
    assert.deepEqual(wanted(), ["10.244.2.0/24 via 127.0.0.62", "10.244.5.0/24 via 127.0.0.65"]);
    assert.deepEqual(backend.status().bgpRetainedRoutes, ["10.244.5.0/24"]);
    // n5's lease goes: so does the route.
    backend.peersChanged(local, [peer2, peer4]);
    assert.deepEqual(
      wanted().filter((r) => r.startsWith("10.244.5.")),
      [],
    );
  } finally {
    await stop();
  }
});

test("selection with a peer restarting too (R bit, nothing sent before its own selection): its subnet's kept route is retained", async () => {
  const n2 = await speakers.make(72, { nextHop: "127.0.0.72" });
  // n5 restarts as well: it waits for a peer that never answers, so it sends n1 nothing for now.
  const n5 = await speakers.make(75, {
    nextHop: "127.0.0.75",
    gracefulRestart: { restarting: true, selectionDeferralSeconds: 60, unreachablePeerSeconds: 60 },
  });
  const local = localAt(71);
  const peer2 = lease("n2", "10.244.2.0/24", "127.0.0.72");
  const peer5 = lease("n5", "10.244.5.0/24", "127.0.0.75");
  n2.speaker.originate(peer2.subnet);
  n5.speaker.originate(peer5.subnet);
  n2.speaker.setPeers([{ address: local.lease.publicIp, asn: 64512, passive: true }]);
  n5.speaker.setPeers([
    { address: local.lease.publicIp, asn: 64512, passive: true },
    { address: "127.0.0.79", asn: 64512 },
  ]);
  const left: Route[] = [
    { dst: "10.244.2.0/24", via: "127.0.0.72", dev: "lo", proto: "147" },
    { dst: "10.244.5.0/24", via: "127.0.0.75", dev: "lo", proto: "147" },
  ];
  const {
    backend,
    wanted: wantedFor,
    gr,
    stop,
  } = await restartedBackend(local, left, [speakers.peerOf(n2), speakers.peerOf(n5)], 30);
  const wanted = () => wantedFor([peer2, peer5]);
  try {
    backend.peersChanged(local, [peer2, peer5]);
    await eventually(
      () => gr().restarting === false,
      "selection: n2's End-of-RIB; n5, restarting, not waited for",
    );
    const n5Session = (backend.status().bgpSessions as { peer: string; state: string }[]).find(
      (s) => s.peer === "127.0.0.75",
    );
    assert.equal(n5Session?.state, "Established", "n5's session is up, it has sent nothing");
    assert.deepEqual(wanted(), ["10.244.2.0/24 via 127.0.0.72", "10.244.5.0/24 via 127.0.0.75"]);
  } finally {
    await stop();
  }
});

test("a client restarted while its reflector restarts too (R bit, nothing sent yet): the kept routes of the nodes behind the reflector are retained", async () => {
  // The reflector and the client's speaker listen on one port, as every node's does.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.85", () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  // n5 reflects; it restarts as well and waits for a peer that never answers, so it sends the
  // client nothing for now (no table, no End-of-RIB).
  const n5 = await speakers.make(85, {
    listen: { host: "127.0.0.85", port },
    nextHop: "127.0.0.85",
    clusterId: "127.0.0.85",
    gracefulRestart: { restarting: true, selectionDeferralSeconds: 60, unreachablePeerSeconds: 60 },
  });
  const local = localAt(81);
  const peer5 = lease("n5", "10.244.5.0/24", "127.0.0.85");
  const peer6 = lease("n6", "10.244.6.0/24", "127.0.0.86");
  const peer7 = lease("n7", "10.244.7.0/24", "127.0.0.87");
  n5.speaker.originate(peer5.subnet);
  n5.speaker.setPeers([
    { address: local.lease.publicIp, asn: 64512, passive: true, rrClient: true },
    { address: "127.0.0.89", asn: 64512, port: 1 },
  ]);
  // n6 and n7 are clients too: their routes reach n1 only reflected by n5.
  const left: Route[] = [
    { dst: "10.244.5.0/24", via: "127.0.0.85", dev: "lo", proto: "147" },
    { dst: "10.244.6.0/24", via: "127.0.0.86", dev: "lo", proto: "147" },
    { dst: "10.244.7.0/24", via: "127.0.0.87", dev: "lo", proto: "147" },
  ];
  const {
    backend,
    wanted: wantedFor,
    gr,
    stop,
  } = await restartedBackend(local, left, [], 30, { mesh: true, routeReflectors: ["n5"], port });
  const wanted = () => wantedFor([peer5, peer6, peer7]);
  try {
    backend.peersChanged(local, [peer5, peer6, peer7]);
    await eventually(() => gr().restarting === false, "selection: n5, restarting, not waited for");
    const sessions = backend.status().bgpSessions as { peer: string; state: string }[];
    assert.deepEqual(
      sessions.map((s) => `${s.peer} ${s.state}`),
      ["127.0.0.85 Established"],
      "one session, to the reflector",
    );
    assert.deepEqual(wanted(), [
      "10.244.5.0/24 via 127.0.0.85",
      "10.244.6.0/24 via 127.0.0.86",
      "10.244.7.0/24 via 127.0.0.87",
    ]);
    // n7's lease goes: its retained route goes with it; n6's stays.
    backend.peersChanged(local, [peer5, peer6]);
    assert.deepEqual(wantedFor([peer5, peer6]), [
      "10.244.5.0/24 via 127.0.0.85",
      "10.244.6.0/24 via 127.0.0.86",
    ]);
  } finally {
    await stop();
  }
});
