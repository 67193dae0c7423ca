import assert from "node:assert/strict";
import { test } from "node:test";
import type { UpdateMessage } from "../codec/types.js";
import type { Negotiated } from "../fsm/negotiation.js";
import { receivedFamilies } from "./received-families.js";

const v4only: Negotiated = { fourOctetAs: true, ipv4Unicast: true, ipv6Unicast: false, ipv4ViaIpv6: false };
const dual: Negotiated = { ...v4only, ipv6Unicast: true };
const base = { origin: "igp" as const, asPath: [] };
const update = (attributes: UpdateMessage["attributes"], nlri: string[] = [], withdrawn: string[] = []) =>
  ({ type: "update", withdrawn, attributes, nlri }) as const satisfies UpdateMessage;

test("IPv6 routes on a session that negotiated only IPv4 are ignored and reported, IPv4 beside them kept", () => {
  const u = update(
    {
      ...base,
      nextHop: "192.0.2.1",
      mpReach: { afi: 2, safi: 1, nextHops: ["fd00::1"], nlri: ["fd00:1::/64", "fd00:2::/64"] },
    },
    ["10.1.0.0/24"],
  );
  const r = receivedFamilies(u, v4only);
  assert.deepEqual(r.ignored, [{ family: "IPv6 unicast", prefixes: 2 }]);
  assert.equal(r.updates.length, 1);
  assert.deepEqual(r.updates[0]?.nlri, ["10.1.0.0/24"]);
  assert.equal(r.updates[0]?.attributes.mpReach, undefined, "the IPv6 routes do not reach the RIB");
  assert.deepEqual(receivedFamilies(u, dual), { updates: [u], ignored: [] }, "negotiated: untouched");
});

test("an UPDATE carrying only a family not negotiated leaves nothing for the RIB", () => {
  const u = update({ mpUnreach: { afi: 2, safi: 1, withdrawn: ["fd00:1::/64"] } });
  assert.deepEqual(receivedFamilies(u, v4only), {
    updates: [],
    ignored: [{ family: "IPv6 unicast", prefixes: 1 }],
  });
  const evpn = update({ ...base, mpReach: { afi: 25, safi: 70, nextHops: [], nlri: [] } });
  assert.deepEqual(receivedFamilies(evpn, dual).ignored, [{ family: "AFI 25 SAFI 70", prefixes: 0 }]);
  const v4 = update({ ...base, nextHop: "192.0.2.1" }, ["10.1.0.0/24"], ["10.2.0.0/24"]);
  assert.deepEqual(receivedFamilies(v4, { ...dual, ipv4Unicast: false }), {
    updates: [],
    ignored: [{ family: "IPv4 unicast", prefixes: 2 }],
  });
});

test("RFC 8950: IPv4 with an IPv6 next hop is ignored without the capability, split from NLRI-field routes with it", () => {
  const u = update(
    {
      ...base,
      nextHop: "192.0.2.1",
      mpReach: { afi: 1, safi: 1, nextHops: ["fd00::7"], nlri: ["10.9.0.0/24"] },
    },
    ["10.1.0.0/24"],
  );
  const without = receivedFamilies(u, dual);
  assert.deepEqual(without.ignored, [{ family: "IPv4 unicast with IPv6 next hop", prefixes: 1 }]);
  assert.deepEqual(
    without.updates.map((x) => [x.nlri, x.attributes.nextHop, x.attributes.mpReach]),
    [[["10.1.0.0/24"], "192.0.2.1", undefined]],
  );
  const withIt = receivedFamilies(u, { ...dual, ipv4ViaIpv6: true });
  assert.deepEqual(withIt.ignored, []);
  assert.equal(withIt.updates.length, 2, "one per next hop");
  const [mp, field] = withIt.updates;
  assert.deepEqual(mp?.attributes.mpReach?.nlri, ["10.9.0.0/24"]);
  assert.equal(mp?.attributes.nextHop, undefined, "NEXT_HOP belongs to the NLRI field's routes");
  assert.deepEqual(field?.nlri, ["10.1.0.0/24"]);
  assert.equal(field?.attributes.mpReach, undefined);
});

test("treat-as-withdraw outcomes stay on every part", () => {
  const outcomes = [{ action: "treat-as-withdraw" as const, attribute: 3, subcode: 8, reason: "x" }];
  const u = {
    ...update(
      {
        ...base,
        nextHop: "192.0.2.1",
        mpReach: { afi: 1, safi: 1, nextHops: ["fd00::7"], nlri: ["10.9.0.0/24"] },
      },
      ["10.1.0.0/24"],
    ),
    outcomes,
  };
  for (const part of receivedFamilies(u, { ...dual, ipv4ViaIpv6: true }).updates)
    assert.deepEqual(part.outcomes, outcomes);
});
