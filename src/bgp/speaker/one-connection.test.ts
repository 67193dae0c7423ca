import assert from "node:assert/strict";
import { connect } from "node:net";
import { afterEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loopbackSpeakers, type SpeakerHarness } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import { tcpSecurityAvailable } from "./tcp-security.js";

/**
 * Issue 16: a session should cost one TCP connection. In a cluster mesh a node sees a peer's
 * lease before that peer's speaker listens, or before it holds our TCP-MD5 key; with TCP-MD5 the
 * kernel then drops our SYN without a word (RFC 2385: no unsigned RST is believed), so the dial
 * neither fails nor completes until the kernel retransmits the SYN. Real sockets over loopback.
 */
describe("one TCP connection per session", () => {
  const { make, peerOf, stopAll } = loopbackSpeakers("10.0.16");
  afterEach(stopAll);
  const key = new TextEncoder().encode("mesh-key");
  const md5 = tcpSecurityAvailable() ? false : "the TCP-MD5 addon is not built";
  const up = (h: SpeakerHarness) => h.speaker.sessions().filter((s) => s.state === "Established").length;

  test("a peer that does not hold our TCP-MD5 key yet: the dial waits for the kernel's SYN retransmission, one connection each side", {
    skip: md5,
  }, async () => {
    // Connect-retry 0.2 s, as short as the lab's 1 s is against the kernel's 1 s SYN retransmission.
    const a = await make(161);
    const b = await make(162);
    a.speaker.setPeers([peerOf(b, { md5Key: key })]);
    await sleep(500); // b listens without a's key: a's SYNs are dropped
    b.speaker.setPeers([peerOf(a, { passive: true, md5Key: key })]);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session");
    await sleep(1500); // anything abandoned on the way would reach b by now
    const dialled = a.speaker.connectionCounts;
    const taken = b.speaker.connectionCounts;
    assert.equal(dialled.dials, 1, `a dialled ${dialled.dials} times (${dialled.dialsAbandoned} abandoned)`);
    assert.equal(dialled.dialsAbandoned, 0);
    assert.equal(taken.accepted, 1, `b accepted ${taken.accepted} connections`);
    assert.deepEqual(taken.collisions, { established: 0, sameDirection: 0, crossed: 0 });
  });

  test("a mesh pair (the higher address passive) costs one connection: one dial, one accept", async () => {
    const a = await make(163);
    const b = await make(164);
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    a.speaker.setPeers([peerOf(b)]);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session");
    assert.equal(a.speaker.connectionCounts.dials, 1);
    assert.equal(b.speaker.connectionCounts.accepted, 1);
    assert.equal(a.speaker.connectionCounts.established + b.speaker.connectionCounts.established, 2);
  });

  test("an inbound connection closed by the peer before its OPEN ends: nothing of it lingers beside the next one", async () => {
    const b = await make(166);
    b.speaker.setPeers([{ address: "127.0.0.165", asn: 64512, passive: true }]);
    // The peer connects and goes away at once (a dial it gave up): b accepted it and sent its OPEN.
    const s = connect({ host: b.address, port: b.speaker.port ?? 0, localAddress: "127.0.0.165" });
    await new Promise<void>((r) => s.once("data", () => r()));
    s.destroy();
    await eventually(() => b.speaker.sessions()[0]?.state === "Idle", "the connection gone", {
      timeoutMs: 2000,
    });
    // The peer's real dial then makes the session, with one connection.
    const a = await make(165);
    a.speaker.setPeers([peerOf(b)]);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session");
    assert.equal(b.speaker.connectionCounts.accepted, 2);
  });

  test("a peer not known to listen yet is dialled when dialNow says it is back: one dial, not one per retry", async () => {
    const b = await make(168);
    const a = await make(167, { heldDialSeconds: 30 });
    a.speaker.setPeers([peerOf(b)], { held: new Set([b.address]) });
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await sleep(400);
    assert.equal(a.speaker.connectionCounts.dials, 0, "no dial while held");
    assert.equal(a.speaker.connectionCounts.held, 1);
    a.speaker.dialNow(b.address);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session", { timeoutMs: 2000 });
    assert.equal(a.speaker.connectionCounts.dials, 1);
    assert.equal(b.speaker.connectionCounts.accepted, 1);
  });

  test("a held peer whose agent never says it is alive is still dialled after heldDialSeconds", async () => {
    const b = await make(170);
    const a = await make(169, { heldDialSeconds: 0.3 });
    a.speaker.setPeers([peerOf(b)], { held: new Set([b.address]) });
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session", { timeoutMs: 3000 });
    assert.equal(a.speaker.connectionCounts.dials, 1);
  });

  test("a held peer that dials us itself gets its session over that connection, and we never dial", async () => {
    const a = await make(171, { heldDialSeconds: 30 });
    const b = await make(172);
    a.speaker.setPeers([peerOf(b)], { held: new Set([b.address]) });
    b.speaker.setPeers([peerOf(a)]);
    await eventually(() => up(a) === 1 && up(b) === 1, "the session");
    await sleep(300);
    assert.equal(a.speaker.connectionCounts.dials, 0);
    assert.equal(a.speaker.connectionCounts.accepted, 1);
  });
});
