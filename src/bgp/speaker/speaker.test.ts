import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { loopbackSpeakers, type SpeakerHarness } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import { BgpSpeaker, type LearnedRouteChange } from "./speaker.js";

/**
 * Speakers in this process, talking over loopback (127.0.0.x: one address per speaker, so each
 * knows the other by address as on a real network). Sessions, collisions, reflection, limits.
 */
describe("BGP speaker", () => {
  const { make, peerOf, stopAll, running } = loopbackSpeakers("10.0.0");
  afterEach(stopAll);
  type Harness = SpeakerHarness;
  const established = (h: Harness) => h.speaker.sessions().filter((s) => s.state === "Established").length;

  test("iBGP: routes flow both ways with NEXT_HOP set to the originator; withdrawals remove them", async () => {
    const a = await make(11);
    const b = await make(12);
    a.speaker.originate("10.244.1.0/24");
    b.speaker.originate("10.244.2.0/24");
    a.speaker.setPeers([peerOf(b)]);
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await eventually(
      () => a.routes.has("10.244.2.0/24") && b.routes.has("10.244.1.0/24"),
      "routes both ways",
    );
    assert.equal(a.routes.get("10.244.2.0/24"), b.address);
    assert.equal(b.routes.get("10.244.1.0/24"), a.address);
    b.speaker.withdraw("10.244.2.0/24");
    await eventually(() => !a.routes.has("10.244.2.0/24"), "withdrawal reaches a");
    assert.ok(b.routes.has("10.244.1.0/24"));
  });

  test("both sides dialling at once: collision resolution leaves exactly one session, and it stays", async () => {
    const a = await make(21);
    const b = await make(22);
    a.speaker.originate("10.244.21.0/24");
    a.speaker.setPeers([peerOf(b)]);
    b.speaker.setPeers([peerOf(a)]);
    await eventually(() => established(a) === 1 && established(b) === 1, "one session each side");
    await eventually(() => b.routes.has("10.244.21.0/24"), "route over the surviving connection");
    await new Promise((r) => setTimeout(r, 800)); // past several connect-retry periods
    assert.equal(established(a), 1);
    assert.equal(a.events.filter((e) => e.event === "established").length, 1, "no flapping");
    assert.equal(b.events.filter((e) => e.event === "established").length, 1, "no flapping");
  });

  test("route reflector: clients learn each other's routes with ORIGINATOR_ID and CLUSTER_LIST", async () => {
    const rr = await make(31, { clusterId: "1.1.1.1" });
    const c1 = await make(32);
    const c2 = await make(33);
    const seen: LearnedRouteChange[] = [];
    const c2routes = new BgpSpeaker({
      asn: 64512,
      routerId: "10.0.0.34",
      holdTime: 9,
      connectRetrySeconds: 0.2,
      localAddress: "127.0.0.34",
      listen: { host: "127.0.0.34", port: 0 },
      onRoutes: (cs) => seen.push(...cs),
    });
    running.push(c2routes);
    await c2routes.start();
    rr.speaker.setPeers([
      peerOf(c1, { rrClient: true, passive: true }),
      peerOf(c2, { rrClient: true, passive: true }),
      { address: "127.0.0.34", asn: 64512, rrClient: true, passive: true },
    ]);
    c1.speaker.originate("10.244.32.0/24");
    for (const c of [c1.speaker, c2.speaker, c2routes]) c.setPeers([peerOf(rr)]);
    await eventually(() => c2.routes.has("10.244.32.0/24"), "c1's route reflected to c2");
    assert.equal(c2.routes.get("10.244.32.0/24"), c1.address, "reflection keeps the NEXT_HOP");
    await eventually(() => seen.some((s) => s.prefix === "10.244.32.0/24"), "third client has it");
    const attrs = seen.find((s) => s.prefix === "10.244.32.0/24")?.attributes;
    assert.equal(attrs?.originatorId, "10.0.0.32");
    assert.deepEqual(attrs?.clusterList, ["1.1.1.1"]);
    assert.equal(established(rr), 3);
    // A client that goes away: its routes are withdrawn from the others.
    c1.speaker.setPeers([]);
    await eventually(() => !c2.routes.has("10.244.32.0/24"), "withdrawn after c1 leaves");
  });

  test("max-prefix: a peer announcing more than its limit gets Cease/1 and its routes are dropped", async () => {
    const a = await make(41);
    const b = await make(42);
    for (let i = 0; i < 20; i++) b.speaker.originate(`10.250.${i}.0/24`);
    a.speaker.setPeers([peerOf(b, { maxPrefixes: 10 })]);
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await eventually(
      () => a.events.some((e) => e.event === "down" && /more than 10 prefixes/.test(e.reason)),
      "a closes the session",
    );
    await eventually(
      // Both set the N bit (RFC 8538): a final Cease goes as a Hard Reset carrying 6/1.
      () =>
        b.events.some((e) => e.event === "down" && /NOTIFICATION 6\/9 \(Hard Reset of 6\/1\)/.test(e.reason)),
      "b received Cease / maximum prefixes (as a Hard Reset)",
    );
    await eventually(() => a.routes.size === 0, "nothing learned stays");
  });

  test("a connection from an address that is not a configured peer is refused", async () => {
    const a = await make(51);
    const b = await make(52);
    b.speaker.setPeers([peerOf(a)]);
    await eventually(() => a.events.some((e) => e.event === "refused" && e.peer === b.address), "refused");
    assert.equal(established(b), 0);
  });
});
