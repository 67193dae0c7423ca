import assert from "node:assert/strict";
import { test } from "node:test";
import type { Capability } from "../codec/types.js";
import { familyNegotiated, negotiate } from "./negotiation.js";

const mp = (afi: number): Capability => ({ kind: "multiprotocol", afi, safi: 1 });
const as4: Capability = { kind: "four-octet-as", asn: 65001 };

test("RFC 4760: a family goes out only when both OPENs listed it", () => {
  const n = negotiate([mp(1), mp(2), as4], [mp(1), as4]);
  assert.deepEqual(n, { fourOctetAs: true, ipv4Unicast: true, ipv6Unicast: false, ipv4ViaIpv6: false });
  assert.equal(familyNegotiated(n, "fd00:1::/64"), false);
  assert.equal(familyNegotiated(n, "10.244.1.0/24"), true);
  const v6only = negotiate([mp(1), mp(2)], [mp(2)]);
  assert.equal(v6only.ipv4Unicast, false, "a peer that lists only IPv6 gets no IPv4 NLRI");
  assert.equal(v6only.ipv6Unicast, true);
});

test("a peer with no multiprotocol capability speaks IPv4 unicast; 4-octet AS needs both sides", () => {
  const n = negotiate([mp(1), mp(2), as4], [{ kind: "route-refresh" }]);
  assert.deepEqual(n, { fourOctetAs: false, ipv4Unicast: true, ipv6Unicast: false, ipv4ViaIpv6: false });
});

test("RFC 8950: IPv4 NLRI with an IPv6 next hop only when both sides sent capability 5 for 1/1 via 2", () => {
  const enh: Capability = { kind: "extended-next-hop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
  assert.equal(negotiate([mp(1), mp(2), enh], [mp(1), mp(2), enh]).ipv4ViaIpv6, true);
  assert.equal(negotiate([mp(1), mp(2), enh], [mp(1), mp(2)]).ipv4ViaIpv6, false, "peer did not send it");
  assert.equal(negotiate([mp(1), mp(2)], [mp(1), mp(2), enh]).ipv4ViaIpv6, false, "we did not send it");
  const otherEntry: Capability = {
    kind: "extended-next-hop",
    entries: [{ afi: 1, safi: 128, nextHopAfi: 2 }],
  };
  assert.equal(negotiate([mp(1), enh], [mp(1), otherEntry]).ipv4ViaIpv6, false, "VPN entry is not unicast");
  assert.equal(
    negotiate([mp(2), enh], [mp(2), enh]).ipv4ViaIpv6,
    false,
    "IPv4 unicast itself not negotiated",
  );
});
