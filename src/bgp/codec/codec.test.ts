import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BgpCodecError } from "./errors.js";
import { BgpFrameParser } from "./framing.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import type { BgpMessage, UpdateMessage } from "./types.js";

const ctx4 = { fourOctetAs: true };
const ctx2 = { fourOctetAs: false };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const marker = "ff".repeat(16);

describe("BGP codec: golden bytes", () => {
  test("KEEPALIVE is the marker, length 19, type 4", () => {
    assert.equal(hex(encodeMessage({ type: "keepalive" }, ctx4)), `${marker}001304`);
  });

  test("OPEN with multiprotocol, route refresh, 4-octet AS (AS_TRANS in the 2-octet field)", () => {
    const open: BgpMessage = {
      type: "open",
      version: 4,
      asn: 4200000001,
      holdTime: 90,
      bgpId: "192.0.2.1",
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "route-refresh" },
        { kind: "four-octet-as", asn: 4200000001 },
      ],
    };
    const b = encodeMessage(open, ctx4);
    // version 4, AS 23456 (0x5ba0), hold 90, id c0000201, params: cap MP(1,4: 0001 00 01), RR(2,0), AS4(65,4)
    assert.equal(
      hex(b).slice(38),
      "04" + "5ba0" + "005a" + "c0000201" + "10" + "020e" + "010400010001" + "0200" + "4104fa56ea01",
    );
    assert.deepEqual(decodeMessage(b, ctx4), open);
  });

  test("NOTIFICATION and ROUTE-REFRESH", () => {
    const n: BgpMessage = { type: "notification", code: 6, subcode: 2, data: new Uint8Array() };
    assert.equal(hex(encodeMessage(n, ctx4)), `${marker}0015030602`);
    const rr: BgpMessage = { type: "route-refresh", afi: 2, safi: 1 };
    assert.equal(hex(encodeMessage(rr, ctx4)), `${marker}00170500020001`);
    assert.deepEqual(decodeMessage(encodeMessage(rr, ctx4), ctx4), rr);
  });
});

const fullUpdate: UpdateMessage = {
  type: "update",
  withdrawn: ["10.9.0.0/16"],
  attributes: {
    origin: "igp",
    asPath: [
      { type: "sequence", asns: [65001, 4200000002] },
      { type: "set", asns: [65010, 65011] },
    ],
    nextHop: "192.0.2.7",
    med: 50,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 65001, address: "192.0.2.9" },
    communities: [0xfde80064],
    originatorId: "192.0.2.1",
    clusterList: ["192.0.2.100", "192.0.2.101"],
    mpReach: {
      afi: 2,
      safi: 1,
      nextHops: ["fd00::1", "fe80::1"],
      nlri: ["fd00:244:1::/64", "fd00:244:2::/64"],
    },
    mpUnreach: { afi: 2, safi: 1, withdrawn: ["fd00:244:9::/64"] },
    unknown: [{ flags: 0xc0, code: 99, data: Uint8Array.of(1, 2, 3) }],
  },
  nlri: ["10.244.1.0/24", "10.244.2.128/25", "0.0.0.0/0"],
};

describe("BGP codec: round trips", () => {
  test("an UPDATE with every attribute, 4-octet session", () => {
    const d = decodeMessage(encodeMessage(fullUpdate, ctx4), ctx4) as UpdateMessage;
    const { unknown, ...rest } = d.attributes;
    const { unknown: _u, ...want } = fullUpdate.attributes;
    assert.deepEqual(rest, want);
    assert.deepEqual(d.nlri, fullUpdate.nlri);
    assert.deepEqual(d.withdrawn, fullUpdate.withdrawn);
    assert.equal(d.outcomes, undefined);
    // An unrecognised optional transitive attribute is passed on with Partial set.
    assert.equal(unknown?.[0]?.flags, 0xe0);
  });

  test("on a 2-octet session, AS numbers above 65535 become AS_TRANS", () => {
    const d = decodeMessage(encodeMessage(fullUpdate, ctx2), ctx2) as UpdateMessage;
    assert.deepEqual(d.attributes.asPath?.[0]?.asns, [65001, 23456]);
  });

  test("graceful restart capability", () => {
    const open: BgpMessage = {
      type: "open",
      version: 4,
      asn: 65001,
      holdTime: 180,
      bgpId: "10.0.0.1",
      capabilities: [
        {
          kind: "graceful-restart",
          restarting: true,
          notification: false,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, forwarding: true }],
        },
      ],
    };
    assert.deepEqual(decodeMessage(encodeMessage(open, ctx4), ctx4), open);
  });

  test("the frame parser reassembles messages split at every byte offset", () => {
    const stream = Buffer.concat([
      encodeMessage({ type: "keepalive" }, ctx4),
      encodeMessage(fullUpdate, ctx4),
      encodeMessage({ type: "route-refresh", afi: 1, safi: 1 }, ctx4),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new BgpFrameParser();
      const msgs = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      assert.equal(msgs.length, 3, `cut at ${cut}`);
      assert.equal(p.pending, 0);
      assert.equal(decodeMessage(msgs[1] as Uint8Array, ctx4).type, "update");
    }
  });
});

/** Build an UPDATE body by hand: withdrawn, attributes (raw), NLRI. */
function rawUpdate(attrs: number[], nlri: number[] = [24, 10, 244, 1]): Uint8Array {
  const body = [0, 0, attrs.length >> 8, attrs.length & 0xff, ...attrs, ...nlri];
  const len = 19 + body.length;
  return Uint8Array.from([...new Array(16).fill(0xff), len >> 8, len & 0xff, 2, ...body]);
}
const ORIGIN = [0x40, 1, 1, 0];
const ASPATH = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXTHOP = [0x40, 3, 4, 192, 0, 2, 1];

describe("BGP codec: malformed input gets the RFC 4271 / RFC 7606 answer", () => {
  const throws: [string, Uint8Array, number, number][] = [
    ["bad marker", Uint8Array.from([...new Array(15).fill(0xff), 0, 0, 19, 4]), 1, 1],
    ["length below 19", Uint8Array.from([...new Array(16).fill(0xff), 0, 18, 4]), 1, 2],
    ["KEEPALIVE with a body", Uint8Array.from([...new Array(16).fill(0xff), 0, 20, 4, 0]), 1, 2],
    ["unknown message type", Uint8Array.from([...new Array(16).fill(0xff), 0, 19, 9]), 1, 3],
    [
      "OPEN version 3",
      encodeMessage(
        { type: "open", version: 3, asn: 1, holdTime: 90, bgpId: "1.1.1.1", capabilities: [] },
        ctx4,
      ),
      2,
      1,
    ],
    [
      "OPEN hold time 2",
      encodeMessage(
        { type: "open", version: 4, asn: 1, holdTime: 2, bgpId: "1.1.1.1", capabilities: [] },
        ctx4,
      ),
      2,
      6,
    ],
    [
      "OPEN BGP id 0.0.0.0",
      encodeMessage(
        { type: "open", version: 4, asn: 1, holdTime: 90, bgpId: "0.0.0.0", capabilities: [] },
        ctx4,
      ),
      2,
      3,
    ],
    ["withdrawn length overrun", Uint8Array.from([...new Array(16).fill(0xff), 0, 23, 2, 0, 9, 0, 0]), 3, 1],
    ["unrecognized well-known attribute", rawUpdate([0x40, 99, 0, ...ORIGIN, ...ASPATH, ...NEXTHOP]), 3, 2],
    ["NLRI prefix length 33", rawUpdate([...ORIGIN, ...ASPATH, ...NEXTHOP], [33, 1, 2, 3, 4, 5]), 3, 10],
    [
      "duplicate MP_REACH_NLRI",
      rawUpdate([0x80, 14, 9, 0, 1, 1, 4, 192, 0, 2, 1, 0, 0x80, 14, 9, 0, 1, 1, 4, 192, 0, 2, 1, 0]),
      3,
      1,
    ],
    ["MP_REACH with bad next hop length", rawUpdate([0x80, 14, 6, 0, 1, 1, 3, 1, 2]), 3, 9],
  ];
  for (const [name, bytes, code, subcode] of throws) {
    test(`${name} → NOTIFICATION ${code}/${subcode}`, () => {
      assert.throws(
        () => decodeMessage(bytes, ctx4),
        (e) => e instanceof BgpCodecError && e.errorCode === code && e.subcode === subcode,
      );
    });
  }

  const recovered: [string, number[], string, number][] = [
    ["ORIGIN value 7", [0x40, 1, 1, 7, ...ASPATH, ...NEXTHOP], "treat-as-withdraw", 6],
    ["ORIGIN of length 2", [0x40, 1, 2, 0, 0, ...ASPATH, ...NEXTHOP], "treat-as-withdraw", 6],
    ["NEXT_HOP of 3 octets", [...ORIGIN, ...ASPATH, 0x40, 3, 3, 1, 2, 3], "treat-as-withdraw", 8],
    ["AS_PATH segment overrun", [...ORIGIN, 0x40, 2, 4, 2, 5, 0, 1, ...NEXTHOP], "treat-as-withdraw", 11],
    [
      "AGGREGATOR of wrong length",
      [...ORIGIN, ...ASPATH, ...NEXTHOP, 0xc0, 7, 3, 1, 2, 3],
      "attribute-discard",
      5,
    ],
    [
      "ATOMIC_AGGREGATE with a body",
      [...ORIGIN, ...ASPATH, ...NEXTHOP, 0x40, 6, 1, 0],
      "attribute-discard",
      5,
    ],
    [
      "COMMUNITIES of 5 octets",
      [...ORIGIN, ...ASPATH, ...NEXTHOP, 0xc0, 8, 5, 1, 2, 3, 4, 5],
      "treat-as-withdraw",
      5,
    ],
    ["ORIGIN flagged optional", [0xc0, 1, 1, 0, ...ASPATH, ...NEXTHOP], "treat-as-withdraw", 4],
    ["missing NEXT_HOP", [...ORIGIN, ...ASPATH], "treat-as-withdraw", 3],
    [
      "attribute overruns the section",
      [...ORIGIN, ...ASPATH, ...NEXTHOP, 0xc0, 8, 50, 1],
      "treat-as-withdraw",
      5,
    ],
  ];
  for (const [name, attrs, action, subcode] of recovered) {
    test(`${name} → ${action} (3/${subcode}), no session reset`, () => {
      const m = decodeMessage(rawUpdate(attrs), ctx4) as UpdateMessage;
      assert.equal(m.outcomes?.[0]?.action, action, JSON.stringify(m.outcomes));
      assert.equal(m.outcomes?.[0]?.subcode, subcode);
    });
  }

  test("a repeated attribute is ignored after its first occurrence", () => {
    const m = decodeMessage(
      rawUpdate([...ORIGIN, 0x40, 1, 1, 2, ...ASPATH, ...NEXTHOP]),
      ctx4,
    ) as UpdateMessage;
    assert.equal(m.attributes.origin, "igp");
    assert.equal(m.outcomes, undefined);
  });
});
