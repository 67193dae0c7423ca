import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import {
  addressBytes,
  addressFromBytes,
  canonicalCidr,
  cidrHost,
  compareAddresses,
  contains,
  InvalidAddressError,
  ipv4Span,
  ipv4ToNumber,
  isIpv4,
  numberToIpv4,
  overlaps,
  parseAddress,
  spansOverlap,
} from "./cidr.js";

describe("IP math", () => {
  it("a dotted quad is a 32-bit number and back, at both ends of the range", () => {
    assert.equal(ipv4ToNumber("10.0.0.1"), 167772161);
    assert.equal(ipv4ToNumber("255.255.255.255"), 0xffffffff);
    assert.equal(ipv4ToNumber("0.0.0.0"), 0);
    for (const ip of ["0.0.0.0", "10.244.1.7", "192.168.10.11", "255.255.255.255"])
      assert.equal(numberToIpv4(ipv4ToNumber(ip)), ip);
  });

  it("orders addresses numerically, not as text (9.x before 10.x)", () => {
    assert.ok(ipv4ToNumber("9.255.255.255") < ipv4ToNumber("10.0.0.0"));
    assert.ok(compareAddresses("192.168.10.9", "192.168.10.10") < 0);
    assert.ok(compareAddresses("10.0.0.1", "fd00::1") < 0, "IPv4 before IPv6");
    assert.ok(compareAddresses("fd00::2", "fd00::10") < 0);
    assert.equal(compareAddresses("fd00::1", "fd00:0::1"), 0);
  });

  it("only four decimal octets are an IPv4 address", () => {
    assert.ok(isIpv4("192.0.2.1"));
    for (const bad of ["10.1", "256.0.0.1", "010.0.0.1", "0x0a.0.0.1", "1.2.3.4.5", "fd00::1", "", "a.b.c.d"])
      assert.equal(isIpv4(bad), false, bad);
    assert.throws(() => ipv4ToNumber("10.1"), InvalidAddressError);
    assert.throws(() => numberToIpv4(2 ** 32), InvalidAddressError);
    assert.throws(() => numberToIpv4(-1), InvalidAddressError);
  });

  it("an IPv4 prefix spans its first to last address, host bits ignored", () => {
    assert.deepEqual(ipv4Span("10.244.1.0/24"), {
      first: ipv4ToNumber("10.244.1.0"),
      last: ipv4ToNumber("10.244.1.255"),
    });
    assert.deepEqual(ipv4Span("10.244.1.7/24"), ipv4Span("10.244.1.0/24"));
    assert.deepEqual(ipv4Span("0.0.0.0/0"), { first: 0, last: 0xffffffff });
    assert.deepEqual(ipv4Span("192.0.2.1/32"), {
      first: ipv4ToNumber("192.0.2.1"),
      last: ipv4ToNumber("192.0.2.1"),
    });
    for (const notV4 of ["fd00::/64", "10.0.0.0/33", "10.0.0.0", "10.0.0/24", "10.0.0.0/x"])
      assert.equal(ipv4Span(notV4), undefined, notV4);
  });

  it("spans overlap when one contains the other, not when they only touch", () => {
    const span = (p: string) => ipv4Span(p) ?? assert.fail(p);
    assert.ok(spansOverlap(span("10.244.0.0/16"), span("10.244.3.0/24")));
    assert.ok(spansOverlap(span("10.244.3.0/24"), span("10.244.3.0/24")));
    assert.equal(spansOverlap(span("10.244.3.0/24"), span("10.244.4.0/24")), false);
    assert.ok(overlaps("10.244.0.0/16", "10.244.3.0/24"));
    assert.equal(overlaps("10.244.3.0/24", "10.244.4.0/24"), false);
  });

  it("containment and canonical form, IPv4 and IPv6", () => {
    assert.ok(contains("10.244.0.0/16", "10.244.9.9"));
    assert.equal(contains("10.244.0.0/16", "10.245.0.1"), false);
    assert.equal(contains("10.0.0.0/8", "fd00::1"), false, "another family is never inside");
    assert.ok(contains("fd00::/64", "fd00::5"));
    assert.equal(canonicalCidr("10.244.1.7/24"), "10.244.1.0/24");
    assert.equal(canonicalCidr("fd00:0:0:1::9/64"), "fd00:0:0:1::/64");
  });

  it("addresses to wire bytes and back (IPv6 compressed as RFC 5952 says)", () => {
    assert.deepEqual(addressBytes("192.0.2.1", 4), [192, 0, 2, 1]);
    assert.equal(addressBytes("2001:db8::1", 6).length, 16);
    assert.equal(addressFromBytes([192, 0, 2, 1]), "192.0.2.1");
    assert.equal(addressFromBytes(addressBytes("2001:db8:0:1:0:0:0:1", 6)), "2001:db8:0:1::1");
    assert.equal(addressFromBytes(addressBytes("fd00:0:1:0:0:0:0:1", 6)), "fd00:0:1::1");
    assert.throws(() => addressBytes("fd00::1", 4), InvalidAddressError);
    assert.throws(() => addressBytes("192.0.2.1", 6), InvalidAddressError);
    assert.throws(() => addressFromBytes([1, 2, 3]), InvalidAddressError);
  });
});

test("parseAddress picks the family from the text and gives undefined for what is no address", () => {
  assert.equal(parseAddress("192.168.10.12")?.kind(), "ipv4");
  assert.equal(parseAddress("fd00::0:1")?.toString(), "fd00::1");
  assert.equal(parseAddress("fe80::1")?.range(), "linkLocal");
  assert.equal(parseAddress("not-an-ip"), undefined);
  assert.equal(parseAddress("300.1.1.1"), undefined);
  assert.equal(parseAddress("fd00::zz"), undefined);
});

test("cidrHost is the CIDR's address in canonical text", () => {
  assert.equal(cidrHost("192.168.10.12/24"), "192.168.10.12");
  assert.equal(cidrHost("fd00:0:0::5/64"), "fd00::5");
});
