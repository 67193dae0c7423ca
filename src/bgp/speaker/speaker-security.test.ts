import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { loopbackSpeakers, type SpeakerHarness } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import { parsePrefixRange } from "../rib/prefix-list.js";
import { tcpSecurityAvailable } from "./tcp-security.js";

/**
 * Import policy and TCP protection on real sessions between speakers in this process, over
 * loopback (127.0.0.x: one address per speaker). The kernel enforces TCP-MD5 and GTSM here just as
 * it does between namespaces.
 */
describe("BGP speaker: import policy, TCP-MD5, GTSM", () => {
  const { make, peerOf, stopAll } = loopbackSpeakers("10.0.1");
  afterEach(stopAll);
  type Harness = SpeakerHarness;
  const session = (h: Harness) => h.speaker.sessions()[0];
  const key = (s: string) => new TextEncoder().encode(s);

  test("a peer's import list: a default route and prefixes outside it are refused and counted; the session stays", async () => {
    const a = await make(61);
    const b = await make(62);
    for (const p of ["0.0.0.0/0", "10.50.1.0/24", "10.50.2.0/25", "10.60.0.0/24"]) b.speaker.originate(p);
    a.speaker.setPeers([peerOf(b, { importList: [parsePrefixRange("10.50.0.0/16le24")] })]);
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await eventually(() => session(a)?.rejected === 3, "three refused");
    assert.deepEqual([...a.routes.keys()], ["10.50.1.0/24"], "only the allowed prefix is learned");
    const s = session(a);
    assert.equal(s?.state, "Established", "a filter outcome, not a session reset");
    assert.equal(s?.prefixes, 1);
    assert.equal(s?.rejectedTotal, 3);
    assert.ok(s?.rejectedExamples?.some((e) => e.prefix === "0.0.0.0/0" && /default route/.test(e.reason)));
    const ev = a.events.filter((e) => e.event === "rejected-routes");
    assert.equal(
      ev.reduce((n, e) => n + (e.event === "rejected-routes" ? e.count : 0), 0),
      3,
      "rejected-routes events name them",
    );
    // A withdrawal of a refused prefix is no longer counted as held, the total stays.
    b.speaker.withdraw("10.60.0.0/24");
    await eventually(() => session(a)?.rejected === 2, "withdrawn refusal leaves");
    assert.equal(session(a)?.rejectedTotal, 3);
  });

  test("setImportPolicy re-runs over what peers sent: newly refused routes are removed", async () => {
    const a = await make(63);
    const b = await make(64);
    b.speaker.originate("10.244.64.0/24");
    a.speaker.setPeers([peerOf(b)]);
    b.speaker.setPeers([peerOf(a, { passive: true })]);
    await eventually(() => a.routes.has("10.244.64.0/24"), "learned");
    a.speaker.setImportPolicy(() => "no longer trusted");
    await eventually(() => !a.routes.has("10.244.64.0/24"), "removed without a session reset");
    assert.equal(session(a)?.state, "Established");
    a.speaker.setImportPolicy(() => undefined);
    await eventually(() => a.routes.has("10.244.64.0/24"), "back without asking the peer again");
  });

  const md5 = tcpSecurityAvailable() ? false : "the TCP-MD5 addon is not built";

  test("TCP-MD5: the same key establishes and routes flow", { skip: md5 }, async () => {
    const a = await make(71);
    const b = await make(72);
    b.speaker.originate("10.244.72.0/24");
    a.speaker.setPeers([peerOf(b, { md5Key: key("s3cret") })]);
    b.speaker.setPeers([peerOf(a, { passive: true, md5Key: key("s3cret") })]);
    await eventually(() => a.routes.has("10.244.72.0/24"), "route over the signed session");
    assert.equal(session(a)?.md5, true);
  });

  for (const [what, theirs] of [
    ["a wrong key", key("guess")],
    ["no key", undefined],
  ] as const) {
    test(`TCP-MD5: with ${what} on one side there is no session, either way round`, {
      skip: md5,
    }, async () => {
      const a = await make(what === "no key" ? 73 : 75);
      const b = await make(what === "no key" ? 74 : 76);
      // a listens with the key and also dials; b dials a with the other (or no) key.
      a.speaker.setPeers([peerOf(b, { md5Key: key("s3cret") })]);
      b.speaker.setPeers([peerOf(a, theirs ? { md5Key: theirs } : {})]);
      await new Promise((r) => setTimeout(r, 1500)); // several connect-retry periods both ways
      assert.notEqual(session(a)?.state, "Established");
      assert.notEqual(session(b)?.state, "Established");
      assert.equal(
        a.events.some((e) => e.event === "state" && e.state === "OpenConfirm"),
        false,
        "not even an OPEN got through",
      );
    });
  }

  test("TCP-MD5: a key change on the listener takes effect for the next connection", {
    skip: md5,
  }, async () => {
    const a = await make(77);
    const b = await make(78);
    a.speaker.setPeers([peerOf(b, { passive: true, md5Key: key("old") })]);
    b.speaker.setPeers([peerOf(a, { md5Key: key("new") })]);
    await new Promise((r) => setTimeout(r, 800));
    assert.notEqual(session(a)?.state, "Established");
    a.speaker.setPeers([peerOf(b, { passive: true, md5Key: key("new") })]);
    await eventually(() => session(a)?.state === "Established", "established with the new key");
  });

  test("GTSM: both sides at TTL 255 establish; a side that sends 64 is not heard", {
    skip: md5,
  }, async () => {
    const a = await make(81);
    const b = await make(82);
    a.speaker.setPeers([peerOf(b, { passive: true, ttlSecurity: true })]);
    b.speaker.setPeers([peerOf(a)]);
    await new Promise((r) => setTimeout(r, 1000));
    assert.notEqual(session(a)?.state, "Established", "b sends with the default TTL");
    b.speaker.setPeers([peerOf(a, { ttlSecurity: true })]);
    await eventually(() => session(a)?.state === "Established", "both at 255");
  });
});
