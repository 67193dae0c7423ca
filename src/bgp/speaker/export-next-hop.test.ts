import assert from "node:assert/strict";
import { test } from "node:test";
import { exportNextHops } from "./export-next-hop.js";

const learned = {
  nextHop: "192.0.2.7",
  mpReach: { afi: 2, safi: 1, nextHops: ["fd00::7", "fe80::7"], nlri: [] },
};

test("over an IPv6 session an IPv4 route gets the configured IPv4 next hop, never the session's address", () => {
  const base = { self: true, originated: true, attributes: {}, sessionAddress: "fd00::2" };
  assert.deepEqual(exportNextHops({ ...base, ipv4: "192.0.2.2" }), { v4: "192.0.2.2", v6: ["fd00::2"] });
  assert.equal(exportNextHops(base).v4, undefined, "no IPv4 next hop: IPv4 routes cannot go");
  assert.equal(exportNextHops({ ...base, originated: false, ipv4: "192.0.2.2" }).v4, "192.0.2.2");
});

test("over an IPv4 session: the session address for IPv4, the configured IPv6 one (or none) for IPv6", () => {
  const base = { self: true, originated: false, attributes: {}, sessionAddress: "192.0.2.2" };
  assert.deepEqual(exportNextHops(base), { v4: "192.0.2.2" });
  assert.deepEqual(exportNextHops({ ...base, ipv6: "fd00::2" }), { v4: "192.0.2.2", v6: ["fd00::2"] });
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "::ffff:192.0.2.2" }), { v4: "192.0.2.2" });
});

test("RFC 2545: over a link-local session our link-local address goes beside the global one", () => {
  const base = { self: true, originated: false, attributes: {}, sessionAddress: "fe80::2%eth0" };
  assert.deepEqual(exportNextHops({ ...base, ipv6: "fd00::2" }).v6, ["fd00::2", "fe80::2"]);
  assert.deepEqual(exportNextHops(base).v6, ["fe80::2"]);
});

test("not self (iBGP, reflection): the learned next hops pass on, the learned link-local one does not", () => {
  const n = exportNextHops({
    self: false,
    originated: false,
    attributes: learned,
    sessionAddress: "fe80::2",
  });
  assert.deepEqual(n, { v4: "192.0.2.7", v6: ["fd00::7"] });
});

test("RFC 8950 negotiated over an IPv6 session: IPv4 routes go with our IPv6 next hops, no IPv4 one needed", () => {
  const base = { self: true, originated: true, attributes: {}, ipv4ViaIpv6: true };
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "fd00::2" }), {
    v4Via6: ["fd00::2"],
    v6: ["fd00::2"],
  });
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "fe80::2%eth0", ipv6: "fd00::2" }).v4Via6, [
    "fd00::2",
    "fe80::2",
  ]);
  // Over an IPv4 session the plain NEXT_HOP stays (RFC 8950 is only needed where IPv4 is missing).
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "192.0.2.2" }), { v4: "192.0.2.2" });
});

test("RFC 8950: a learned IPv6 next hop of an IPv4 route passes on where negotiated, else we are the next hop", () => {
  const via6 = { origin: "igp" as const, mpReach: { afi: 1, safi: 1, nextHops: ["fd00::7"], nlri: [] } };
  const base = { self: false, originated: false, attributes: via6 };
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "192.0.2.2", ipv4ViaIpv6: true }).v4Via6, [
    "fd00::7",
  ]);
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "192.0.2.2" }), {
    v4: "192.0.2.2",
    v6: ["fd00::7"],
  });
  assert.equal(
    exportNextHops({ ...base, sessionAddress: "fd00::2" }).v4,
    undefined,
    "no RFC 8950 and no IPv4 address: not sendable, never a malformed NEXT_HOP",
  );
});

test("RFC 2545 §3 on a shared link: our link-local address beside our global one, over IPv4 or global IPv6", () => {
  const base = { self: true, originated: true, attributes: {}, linkLocal: "fe80::2" };
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "fd00::2" }).v6, ["fd00::2", "fe80::2"]);
  assert.deepEqual(exportNextHops({ ...base, sessionAddress: "192.0.2.2", ipv6: "fd00::2" }).v6, [
    "fd00::2",
    "fe80::2",
  ]);
  assert.equal(
    exportNextHops({ ...base, sessionAddress: "192.0.2.2" }).v6,
    undefined,
    "a link-local address never goes alone over a session that is not link-local",
  );
});
