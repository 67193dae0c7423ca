import assert from "node:assert/strict";
import { test } from "node:test";
import { BgpCodecError } from "./errors.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import type { BgpMessage, UpdateMessage } from "./types.js";

const ctx = { fourOctetAs: true };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const marker = "ff".repeat(16);

test("RFC 8950 capability 5: golden bytes and round trip (AFI 1, SAFI 1, next hop AFI 2)", () => {
  const open: BgpMessage = {
    type: "open",
    version: 4,
    asn: 65001,
    holdTime: 90,
    bgpId: "192.0.2.1",
    capabilities: [{ kind: "extended-next-hop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] }],
  };
  const b = encodeMessage(open, ctx);
  assert.equal(hex(b).slice(38 + 18), "0a" + "0208" + "0506" + "000100010002");
  assert.deepEqual(decodeMessage(b, ctx), open);
  // A length that is not a multiple of 6 is kept as an unknown capability, never misread.
  const odd = encodeMessage(
    { ...open, capabilities: [{ kind: "unknown", code: 5, data: unhex("0001000100") }] },
    ctx,
  );
  assert.deepEqual((decodeMessage(odd, ctx) as BgpMessage & { type: "open" }).capabilities, [
    { kind: "unknown", code: 5, data: unhex("0001000100") },
  ]);
});

test("MP_REACH_NLRI with IPv4 NLRI and an IPv6 next hop (one or two) decodes and encodes back", () => {
  for (const nextHops of [["2001:db8::7"], ["2001:db8::7", "fe80::7"]]) {
    const u: UpdateMessage = {
      type: "update",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [{ type: "sequence", asns: [65002] }],
        mpReach: { afi: 1, safi: 1, nextHops, nlri: ["10.9.0.0/24", "10.9.1.0/24"] },
      },
      nlri: [],
    };
    const b = encodeMessage(u, ctx);
    // flags 0x80, code 14, then AFI 1, SAFI 1, next hop length 16 or 32.
    assert.ok(
      hex(b).includes(
        `800e${(5 + 16 * nextHops.length + 8).toString(16)}000101${(16 * nextHops.length).toString(16)}`,
      ),
    );
    assert.deepEqual(decodeMessage(b, ctx), u);
  }
});

/** An UPDATE whose only attribute is MP_REACH_NLRI with this body. */
const withReach = (body: string) => {
  const attr = `800e${(body.length / 2).toString(16).padStart(2, "0")}${body}`;
  const len = 19 + 4 + attr.length / 2;
  return unhex(
    `${marker}${len.toString(16).padStart(4, "0")}02` +
      "0000" +
      `${(attr.length / 2).toString(16).padStart(4, "0")}${attr}`,
  );
};

test("MP_REACH next hop lengths: IPv4 NLRI take 4, 16 or 32 octets; IPv6 16 or 32; anything else resets", () => {
  const v6nh = "20010db8000000000000000000000007";
  assert.throws(
    () => decodeMessage(withReach(`000101 08 c0000201c0000202 00 180a0900`.replace(/ /g, "")), ctx),
    BgpCodecError,
  );
  assert.throws(
    () => decodeMessage(withReach(`000201 04 c0000201 00 00`.replace(/ /g, "")), ctx),
    BgpCodecError,
  );
  const ok = decodeMessage(
    withReach(`000101 10 ${v6nh} 00 180a0900`.replace(/ /g, "")),
    ctx,
  ) as UpdateMessage;
  assert.deepEqual(ok.attributes.mpReach, {
    afi: 1,
    safi: 1,
    nextHops: ["2001:db8::7"],
    nlri: ["10.9.0.0/24"],
  });
});

test("a family whose NLRI are not plain prefixes (EVPN, VPN) is decoded empty, never misread as IPv4", () => {
  // AFI 25 / SAFI 70 with a body that is not a prefix list: no session reset, no routes.
  const u = decodeMessage(withReach("0019460401020304" + "00" + "02ffffff"), ctx) as UpdateMessage;
  assert.deepEqual(u.attributes.mpReach, { afi: 25, safi: 70, nextHops: [], nlri: [] });
});
