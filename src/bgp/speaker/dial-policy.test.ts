import assert from "node:assert/strict";
import { test } from "node:test";
import { connectWaitSeconds, firstDial, SYN_RETRANSMITS_SECONDS } from "./dial-policy.js";

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
