import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { loopbackSpeakers, type SpeakerHarness } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import type { GracefulRestartOptions } from "./speaker.js";

/**
 * Graceful restart (RFC 4724) between speakers in this process over loopback: `a` listens and
 * helps; `b` dials it, goes away and comes back on the same address (a new speaker, as after a
 * process restart).
 */
describe("BGP speaker: graceful restart", () => {
  const { make, peerOf, stopAll } = loopbackSpeakers("10.0.9");
  afterEach(stopAll);
  /** Every prefix `h` ever lost (a removal reported to the kernel). */
  const removals = (h: SpeakerHarness) => {
    const lost: string[] = [];
    const orig = h.routes.delete.bind(h.routes);
    h.routes.delete = (k: string) => {
      lost.push(k);
      return orig(k);
    };
    return lost;
  };
  const bAt = async (n: number, a: SpeakerHarness, prefixes: string[], gr?: GracefulRestartOptions) => {
    const b = await make(n, gr ? { gracefulRestart: gr } : {});
    for (const p of prefixes) b.speaker.originate(p);
    b.speaker.setPeers([peerOf(a)]);
    return b;
  };
  const session = (h: SpeakerHarness) => h.speaker.sessions()[0];

  test("helper: routes stay (stale) while the peer restarts; its End-of-RIB sweeps what it no longer has", async () => {
    const a = await make(11);
    a.speaker.originate("10.244.5.0/24");
    a.speaker.setPeers([{ address: "127.0.0.12", asn: 64512, passive: true }]);
    const lost = removals(a);
    const b = await bAt(12, a, ["10.244.1.0/24", "10.244.9.0/24"]);
    await eventually(() => a.routes.size === 2, "a learned both");
    await eventually(() => b.events.some((e) => e.event === "end-of-rib"), "b got a's End-of-RIB");
    assert.equal(session(a)?.gracefulRestart.negotiated, true);
    await b.speaker.stop({ graceful: true });
    await eventually(() => a.events.some((e) => e.event === "routes-stale"), "a keeps b's routes stale");
    assert.equal(session(a)?.gracefulRestart.staleRoutes, 2);
    assert.equal(a.routes.size, 2, "nothing removed while b is away");
    const b2 = await bAt(12, a, ["10.244.1.0/24"], { restarting: true });
    // What b2 had given its kernel when it said selection ran (a backend drops its kept routes then).
    const routesAtSelection: string[][] = [];
    const push = b2.events.push.bind(b2.events);
    b2.events.push = (...es) => {
      for (const e of es) if (e.event === "selection-done") routesAtSelection.push([...b2.routes.keys()]);
      return push(...es);
    };
    await eventually(() => !a.routes.has("10.244.9.0/24"), "End-of-RIB sweeps the route b2 no longer has");
    assert.deepEqual(lost, ["10.244.9.0/24"], "10.244.1.0/24 was never removed");
    assert.equal(session(a)?.gracefulRestart.staleRoutes, 0);
    const swept = a.events.find((e) => e.event === "stale-swept");
    assert.ok(swept?.event === "stale-swept" && /End-of-RIB/.test(swept.reason) && swept.routes === 1);
    // b2, restarting, selected its routes once a's End-of-RIB came (not by its timer).
    await eventually(() => b2.events.some((e) => e.event === "selection-done"), "b2 selected");
    const done = b2.events.find((e) => e.event === "selection-done");
    assert.ok(done?.event === "selection-done" && /every peer/.test(done.reason));
    assert.deepEqual(
      routesAtSelection,
      [["10.244.5.0/24"]],
      "a's route reached onRoutes before selection-done",
    );
  });

  test("helper: the restart time runs out and the stale routes go", async () => {
    const a = await make(21);
    a.speaker.setPeers([{ address: "127.0.0.22", asn: 64512, passive: true }]);
    const b = await bAt(22, a, ["10.244.2.0/24"], { restartTime: 1 });
    await eventually(() => a.routes.size === 1, "a learned it");
    await b.speaker.stop({ graceful: true });
    await eventually(() => a.events.some((e) => e.event === "routes-stale"), "stale");
    const t0 = Date.now();
    assert.equal(a.routes.size, 1);
    await eventually(() => a.routes.size === 0, "swept after the restart time", { timeoutMs: 5000 });
    assert.ok(Date.now() - t0 >= 800, `kept ${Date.now() - t0} ms (restart time 1 s)`);
    const swept = a.events.find((e) => e.event === "stale-swept");
    assert.ok(swept?.event === "stale-swept" && swept.reason === "restart time expired");
  });

  test("a NOTIFICATION (administrative stop) ends it for good: routes go at once", async () => {
    const a = await make(31);
    a.speaker.setPeers([{ address: "127.0.0.32", asn: 64512, passive: true }]);
    const b = await bAt(32, a, ["10.244.3.0/24"]);
    await eventually(() => a.routes.size === 1, "a learned it");
    await b.speaker.stop();
    await eventually(() => a.routes.size === 0, "withdrawn at once");
    assert.ok(!a.events.some((e) => e.event === "routes-stale"));
  });

  test("no graceful restart on the helper side: routes go when the TCP connection closes", async () => {
    const a = await make(41, { gracefulRestart: false });
    a.speaker.setPeers([{ address: "127.0.0.42", asn: 64512, passive: true }]);
    const b = await bAt(42, a, ["10.244.4.0/24"]);
    await eventually(() => a.routes.size === 1, "a learned it");
    assert.equal(session(a)?.gracefulRestart.negotiated, false);
    await b.speaker.stop({ graceful: true });
    await eventually(() => a.routes.size === 0, "dropped");
  });

  test("back without forwarding state (F bit clear): stale routes go as the session comes up", async () => {
    const a = await make(51);
    a.speaker.setPeers([{ address: "127.0.0.52", asn: 64512, passive: true }]);
    const b = await bAt(52, a, ["10.244.5.0/24"]);
    await eventually(() => a.routes.size === 1, "a learned it");
    await b.speaker.stop({ graceful: true });
    await eventually(() => a.events.some((e) => e.event === "routes-stale"), "stale");
    await bAt(52, a, [], { restarting: true, forwardingPreserved: false, selectionDeferralSeconds: 30 });
    await eventually(() => a.routes.size === 0, "flushed on re-establishment");
    const swept = a.events.find((e) => e.event === "stale-swept");
    assert.ok(swept?.event === "stale-swept" && /no forwarding state/.test(swept.reason));
  });

  test("restarting speaker: nothing is selected or sent before the deferral ends (timer, peer never up)", async () => {
    const a = await make(61);
    a.speaker.setPeers([{ address: "127.0.0.62", asn: 64512, passive: true }]);
    const b = await make(62, { gracefulRestart: { restarting: true, selectionDeferralSeconds: 0.7 } });
    b.speaker.originate("10.244.6.0/24");
    // A second peer that never answers keeps the deferral going until its timer.
    b.speaker.setPeers([peerOf(a), { address: "127.0.0.63", asn: 64512, port: 1 }]);
    await eventually(() => session(a)?.state === "Established", "session up");
    assert.equal(b.speaker.deferring, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.routes.size, 0, "b sent nothing while deferring");
    await eventually(() => a.routes.has("10.244.6.0/24"), "sent after the deferral timer", {
      timeoutMs: 3000,
    });
    const done = b.events.find((e) => e.event === "selection-done");
    assert.ok(done?.event === "selection-done" && /timer/.test(done.reason));
    await eventually(
      () => session(a)?.gracefulRestart.endOfRibReceived.includes("1/1") === true,
      "a got b's End-of-RIB",
    );
  });
  test("RFC 8538: a graceful stop with the N bit on both sides sends Cease / Administrative Shutdown as it is, and the helper keeps the routes", async () => {
    const a = await make(71);
    a.speaker.setPeers([{ address: "127.0.0.72", asn: 64512, passive: true }]);
    const lost = removals(a);
    const b = await bAt(72, a, ["10.244.7.0/24"]);
    await eventually(() => a.routes.size === 1, "a learned it");
    await b.speaker.stop({ graceful: true });
    await eventually(() => a.events.some((e) => e.event === "routes-stale"), "a keeps b's route stale");
    assert.match(
      session(a)?.lastDown ?? "",
      /peer sent NOTIFICATION 6\/2$/,
      "a non-final Cease, not a Hard Reset",
    );
    assert.deepEqual(lost, []);
    assert.equal(session(a)?.gracefulRestart.staleRoutes, 1);
  });

  test("RFC 8538: a plain stop with the N bit on both sides is a Hard Reset (6/9): the routes go at once", async () => {
    const a = await make(73);
    a.speaker.setPeers([{ address: "127.0.0.74", asn: 64512, passive: true }]);
    const b = await bAt(74, a, ["10.244.7.0/24"]);
    await eventually(() => a.routes.size === 1, "a learned it");
    await b.speaker.stop();
    await eventually(() => a.routes.size === 0, "a dropped b's route");
    assert.match(session(a)?.lastDown ?? "", /peer sent NOTIFICATION 6\/9 \(Hard Reset of 6\/2\)$/);
    assert.equal(
      a.events.some((e) => e.event === "routes-stale"),
      false,
    );
  });

  test("RFC 8538 off on the helper: a Cease drops the routes; a graceful stop still closes without a NOTIFICATION (RFC 4724), so they stay", async () => {
    const a = await make(75, { gracefulRestart: { notification: false } });
    a.speaker.setPeers([
      { address: "127.0.0.76", asn: 64512, passive: true },
      { address: "127.0.0.77", asn: 64512, passive: true },
    ]);
    const b = await bAt(76, a, ["10.244.7.0/24"]);
    const c = await bAt(77, a, ["10.244.8.0/24"]);
    await eventually(() => a.routes.size === 2, "a learned both");
    await b.speaker.stop();
    await eventually(() => !a.routes.has("10.244.7.0/24"), "b's Cease (no N on a: final) drops its route");
    const down = a.speaker.sessions().find((x) => x.peer === "127.0.0.76");
    assert.match(down?.lastDown ?? "", /peer sent NOTIFICATION 6\/2$/, "not wrapped: N was not negotiated");
    await c.speaker.stop({ graceful: true });
    await eventually(() => a.events.some((e) => e.event === "routes-stale"), "c's route kept stale");
    assert.equal(a.routes.has("10.244.8.0/24"), true);
  });

  test("restarting speaker: the R bit goes with its selection (a later session is no restart, and its peer waits for our End-of-RIB)", async () => {
    const a = await make(91);
    a.speaker.setPeers([{ address: "127.0.0.92", asn: 64512, passive: true }]);
    const c = await make(93);
    c.speaker.setPeers([{ address: "127.0.0.92", asn: 64512, passive: true }]);
    const b = await make(92, { gracefulRestart: { restarting: true, selectionDeferralSeconds: 30 } });
    b.speaker.originate("10.244.2.0/24");
    b.speaker.setPeers([peerOf(a)]);
    await eventually(() => session(a)?.state === "Established", "a: session up");
    assert.equal(session(a)?.gracefulRestart.peerRestarting, true, "b came back restarting: R set");
    await eventually(
      () => b.events.some((e) => e.event === "selection-done"),
      "b's selection (a's End-of-RIB)",
    );
    // The session to c comes up after b's restart is over: no R bit, no F bits.
    b.speaker.setPeers([peerOf(a), peerOf(c)]);
    await eventually(() => session(c)?.state === "Established", "c: session up");
    assert.equal(session(c)?.gracefulRestart.peerRestarting, false, "R clear after the selection");
    await eventually(() => c.routes.has("10.244.2.0/24"), "c learned b's route");
  });

  test("restarting speaker: a peer that never opened a connection is not waited for past the grace time", async () => {
    const a = await make(78);
    a.speaker.setPeers([{ address: "127.0.0.79", asn: 64512, passive: true }]);
    const b = await make(79, {
      gracefulRestart: { restarting: true, selectionDeferralSeconds: 30, unreachablePeerSeconds: 0.5 },
    });
    b.speaker.originate("10.244.9.0/24");
    const t0 = Date.now();
    // The second peer never answers (nothing listens on port 1): a dead neighbour.
    b.speaker.setPeers([peerOf(a), { address: "127.0.0.80", asn: 64512, port: 1 }]);
    await eventually(() => a.routes.has("10.244.9.0/24"), "b selected and sent its route", {
      timeoutMs: 5000,
    });
    const waited = Date.now() - t0;
    assert.ok(waited >= 400 && waited < 5000, `waited ${waited} ms (grace 0.5 s, deferral 30 s)`);
    const done = b.events.find((e) => e.event === "selection-done");
    assert.ok(
      done?.event === "selection-done" && /1 never opened a connection/.test(done.reason),
      JSON.stringify(done),
    );
  });
});
