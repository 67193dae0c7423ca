import assert from "node:assert/strict";
import { test } from "node:test";
import { connectWaitSeconds, firstDial, RecentDialers, SYN_RETRANSMITS_SECONDS } from "./dial-policy.js";

test("a connect waits through the kernel's second SYN retransmission (3 s) before it is given up", () => {
  assert.ok(SYN_RETRANSMITS_SECONDS > 3);
  assert.equal(connectWaitSeconds(1), SYN_RETRANSMITS_SECONDS);
  assert.equal(connectWaitSeconds(0.05), SYN_RETRANSMITS_SECONDS);
});

test("a connect-retry time longer than that applies as it is (RFC 4271 suggests 120 s)", () => {
  assert.equal(connectWaitSeconds(5), 5);
  assert.equal(connectWaitSeconds(120), 120);
});

test("a new peer is dialled now unless it is not known to listen yet; a passive one never", () => {
  const held = new Set(["192.168.10.12"]);
  assert.equal(firstDial({ address: "192.168.10.11" }, held), "now");
  assert.equal(firstDial({ address: "192.168.10.12" }, held), "hold");
  assert.equal(firstDial({ address: "192.168.10.12" }, undefined), "now");
  assert.equal(firstDial({ address: "192.168.10.12", passive: true }, held), "never");
});

test("a held peer that dialled us lately is dialled now", () => {
  const held = new Set(["192.168.10.12"]);
  assert.equal(firstDial({ address: "192.168.10.12" }, held, true), "now");
  assert.equal(firstDial({ address: "192.168.10.12", passive: true }, held, true), "never");
});

test("recent dialers: taken once, within their time, the newest few kept", () => {
  const d = new RecentDialers(3, 1_000);
  d.note("a", 0);
  assert.equal(d.take("a", 1_000), true, "within its time");
  assert.equal(d.take("a", 1_000), false, "used up");
  d.note("b", 0);
  assert.equal(d.take("b", 1_001), false, "too old");
  for (const x of ["c", "d", "e", "f"]) d.note(x, 10);
  assert.equal(d.take("c", 20), false, "the oldest of four went (at most three)");
  assert.equal(d.take("f", 20), true);
  d.note("d", 30);
  d.note("g", 30);
  d.note("h", 30);
  assert.equal(d.take("e", 40), false, "noted again, d is newer than e");
  assert.equal(d.take("d", 40), true);
});
