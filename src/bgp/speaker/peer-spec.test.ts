import assert from "node:assert/strict";
import { test } from "node:test";
import { PeerSpecError, parsePeerSpec, withPassword } from "./peer-spec.js";

test("--peer specs parse, and bad ones say what to write", () => {
  assert.deepEqual(parsePeerSpec("10.0.0.1,as=65001"), { address: "10.0.0.1", asn: 65001 });
  assert.deepEqual(parsePeerSpec("10.0.0.2,as=4200000000,port=1179,rr-client,passive,max-prefixes=10"), {
    address: "10.0.0.2",
    asn: 4200000000,
    port: 1179,
    rrClient: true,
    passive: true,
    maxPrefixes: 10,
  });
  for (const bad of [
    "10.0.0.1",
    "10.0.0.256,as=1",
    "host,as=1",
    "10.0.0.1,as=0",
    "10.0.0.1,as=x",
    "10.0.0.1,as=1,port=70000",
    "10.0.0.1,as=1,color=red",
    "10.0.0.1,as=1,max-prefixes=",
    "10.0.0.1,as=1,import=10.0.0.0",
    "10.0.0.1,as=1,import=10.0.0.1/8",
    "10.0.0.1,as=1,password-file=",
  ]) {
    assert.throws(() => parsePeerSpec(bad), PeerSpecError, bad);
  }
  assert.throws(() => parsePeerSpec("10.0.0.1,as=1,color=red"), /unknown option "color".*ADDRESS,as=ASN/);
});

test("import= repeats into the peer's list; the password comes only from a file", () => {
  assert.deepEqual(
    parsePeerSpec(
      "10.0.0.1,as=65001,import=10.50.0.0/16le24,import=0.0.0.0/0,password-file=/etc/strata/tor.key,ttl-security",
    ),
    {
      address: "10.0.0.1",
      asn: 65001,
      importList: [
        { prefix: "10.50.0.0/16", ge: 16, le: 24 },
        { prefix: "0.0.0.0/0", ge: 0, le: 0 },
      ],
      passwordFile: "/etc/strata/tor.key",
      ttlSecurity: true,
    },
  );
  assert.throws(() => parsePeerSpec("10.0.0.1,as=1,import=10.0.0.0/8le4"), /le must be 8\.\.32/);
  assert.throws(
    () => parsePeerSpec("10.0.0.1,as=1,password=hunter2"),
    /every local user.*password-file=PATH/,
  );
  const read = (path: string) => new TextEncoder().encode(`key of ${path}`);
  const c = withPassword(parsePeerSpec("10.0.0.1,as=1,password-file=/k"), read);
  assert.deepEqual(c, { address: "10.0.0.1", asn: 1, md5Key: read("/k") });
  assert.deepEqual(withPassword(parsePeerSpec("10.0.0.1,as=1"), read), { address: "10.0.0.1", asn: 1 });
});

test("--peer takes IPv6 peers: global addresses, and link-local ones with their interface", () => {
  assert.deepEqual(parsePeerSpec("fd00::1,as=65001"), { address: "fd00::1", asn: 65001 });
  assert.deepEqual(parsePeerSpec("fe80::1%eth0,as=65001,passive"), {
    address: "fe80::1%eth0",
    asn: 65001,
    passive: true,
  });
  assert.throws(() => parsePeerSpec("fe80::1,as=1"), /link-local: name its interface \(write fe80::1%eth0\)/);
  assert.throws(() => parsePeerSpec("fd00::1%eth0,as=1"), /not link-local/);
  assert.throws(() => parsePeerSpec("fd00::g,as=1"), /not an IPv4 or IPv6 address/);
  assert.throws(() => parsePeerSpec("fe80::1%,as=1"), /bad interface suffix/);
});

test("--peer: an IPv6 address in brackets, and extended-nexthop (RFC 8950)", () => {
  assert.deepEqual(parsePeerSpec("[fd00::1],as=65001,extended-nexthop"), {
    address: "fd00::1",
    asn: 65001,
    extendedNextHop: true,
  });
  assert.deepEqual(parsePeerSpec("[fe80::1%eth0],as=1").address, "fe80::1%eth0");
  assert.equal(parsePeerSpec("fd00::1,as=1,link-local-next-hop").linkLocalNextHop, true);
  assert.throws(() => parsePeerSpec("[fd00::1,as=1"), /not an IPv4 or IPv6 address/);
});
