import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeFromOldSpeaker } from "./as4.js";
import { Flag } from "./attributes.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import { nextHopProblem } from "./next-hop.js";
import type { PathAttributes, UpdateMessage } from "./types.js";

const ctx4 = { fourOctetAs: true };
const ctx2 = { fourOctetAs: false };
const update = (attributes: PathAttributes, nlri = ["10.244.1.0/24"]): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop: "192.0.2.1", ...attributes },
  nlri,
});
/** The attributes on the wire: code → flags, body (after the UPDATE's length fields). */
function wireAttributes(msg: Uint8Array): Map<number, { flags: number; body: Uint8Array }> {
  const b = msg.subarray(19);
  const wLen = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  const aLen = ((b[2 + wLen] ?? 0) << 8) | (b[3 + wLen] ?? 0);
  const out = new Map<number, { flags: number; body: Uint8Array }>();
  let i = 4 + wLen;
  while (i < 4 + wLen + aLen) {
    const flags = b[i] as number;
    const ext = (flags & Flag.ExtendedLength) !== 0;
    const len = ext ? ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0) : (b[i + 2] as number);
    const start = i + (ext ? 4 : 3);
    out.set(b[i + 1] as number, { flags, body: b.subarray(start, start + len) });
    i = start + len;
  }
  return out;
}
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

describe("RFC 6793: AS numbers above 65535 and 2-octet (OLD) speakers", () => {
  const path: PathAttributes = { asPath: [{ type: "sequence", asns: [4200000001, 65010, 4200000002] }] };

  test("to an OLD speaker: AS_PATH with AS_TRANS and AS4_PATH with the real path (§4.2.2)", () => {
    const wire = wireAttributes(encodeMessage(update(path), ctx2));
    // AS_SEQUENCE of 3, 2-octet: 23456 65010 23456
    assert.equal(hex(wire.get(2)?.body), "0203" + "5ba0" + "fdf2" + "5ba0");
    // AS4_PATH (17), optional transitive, 4-octet real numbers
    assert.equal(wire.get(17)?.flags, Flag.Optional | Flag.Transitive);
    assert.equal(hex(wire.get(17)?.body), "0203" + "fa56ea01" + "0000fdf2" + "fa56ea02");
  });

  test("to an OLD speaker: a path of 2-octet numbers only gets no AS4_PATH", () => {
    const wire = wireAttributes(
      encodeMessage(update({ asPath: [{ type: "sequence", asns: [65001] }] }), ctx2),
    );
    assert.equal(wire.has(17), false);
  });

  test("to a NEW speaker: never AS4_PATH, even when the attributes carry one", () => {
    const wire = wireAttributes(encodeMessage(update({ ...path, as4Path: path.asPath }), ctx4));
    assert.equal(wire.has(17), false);
    assert.equal(hex(wire.get(2)?.body), "0203" + "fa56ea01" + "0000fdf2" + "fa56ea02");
  });

  test("an AGGREGATOR above 65535 goes as AS_TRANS with AS4_AGGREGATOR to an OLD speaker", () => {
    const a = { ...path, aggregator: { asn: 4200000003, address: "192.0.2.9" } };
    const wire = wireAttributes(encodeMessage(update(a), ctx2));
    assert.equal(hex(wire.get(7)?.body), "5ba0" + "c0000209");
    assert.equal(hex(wire.get(18)?.body), "fa56ea03" + "c0000209");
    const back = decodeMessage(encodeMessage(update(a), ctx2), ctx2) as UpdateMessage;
    assert.deepEqual(back.attributes.aggregator, a.aggregator);
    assert.equal(back.attributes.as4Aggregator, undefined);
  });

  test("from an OLD speaker: AS_PATH and AS4_PATH merge into the real path (§4.2.3)", () => {
    const back = decodeMessage(encodeMessage(update(path), ctx2), ctx2) as UpdateMessage;
    assert.deepEqual(back.attributes.asPath, path.asPath);
    assert.equal(back.attributes.as4Path, undefined, "folded into AS_PATH, never passed on as such");
  });

  test("merge: leading AS numbers AS4_PATH lacks (prepended by OLD speakers) are kept", () => {
    // An OLD speaker (65020) prepended itself after the NEW one made AS4_PATH.
    const merged = mergeFromOldSpeaker({
      asPath: [
        { type: "sequence", asns: [65020, 65021, 23456, 65010] },
        { type: "set", asns: [1, 2] },
      ],
      as4Path: [
        { type: "sequence", asns: [4200000001, 65010] },
        { type: "set", asns: [1, 2] },
      ],
    });
    assert.deepEqual(merged.asPath, [
      { type: "sequence", asns: [65020, 65021, 4200000001, 65010] },
      { type: "set", asns: [1, 2] },
    ]);
  });

  test("merge: an AS4_PATH longer than AS_PATH is ignored; an AGGREGATOR that is not AS_TRANS voids both AS4 attributes", () => {
    const short = { asPath: [{ type: "sequence" as const, asns: [65001] }] };
    const longer = mergeFromOldSpeaker({ ...short, as4Path: [{ type: "sequence", asns: [1, 2] }] });
    assert.deepEqual(longer, short);
    const aggregated = mergeFromOldSpeaker({
      asPath: [{ type: "sequence", asns: [23456] }],
      as4Path: [{ type: "sequence", asns: [4200000001] }],
      aggregator: { asn: 65001, address: "192.0.2.1" },
      as4Aggregator: { asn: 4200000001, address: "192.0.2.1" },
    });
    assert.deepEqual(aggregated, {
      asPath: [{ type: "sequence", asns: [23456] }],
      aggregator: { asn: 65001, address: "192.0.2.1" },
    });
  });

  test("from a NEW speaker: a received AS4_PATH is discarded (§4.1)", () => {
    // A 4-octet session's UPDATE with AS_PATH [65001] and an AS4_PATH [4200000001] appended by hand.
    const plain = encodeMessage(update({ asPath: [{ type: "sequence", asns: [65001] }] }), ctx4);
    const as4 = Uint8Array.of(Flag.Optional | Flag.Transitive, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 0x01);
    const b = plain.subarray(19);
    const aLen = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    const body = Uint8Array.from([
      0,
      0,
      (aLen + as4.length) >> 8,
      (aLen + as4.length) & 0xff,
      ...b.subarray(4, 4 + aLen),
      ...as4,
      ...b.subarray(4 + aLen),
    ]);
    const msg = Uint8Array.from([...plain.subarray(0, 16), 0, 19 + body.length, 2, ...body]);
    const d = decodeMessage(msg, ctx4) as UpdateMessage;
    assert.deepEqual(d.attributes.asPath, [{ type: "sequence", asns: [65001] }]);
    assert.equal(d.attributes.as4Path, undefined);
  });
});

describe("RFC 4271 §9: unrecognised optional attributes", () => {
  const unknown = [
    { flags: Flag.Optional | Flag.Transitive, code: 99, data: Uint8Array.of(1, 2) },
    { flags: Flag.Optional, code: 98, data: Uint8Array.of(3) },
  ];

  test("a transitive one is passed on with Partial set; a non-transitive one is dropped on receipt", () => {
    const d = decodeMessage(encodeMessage(update({ unknown }), ctx4), ctx4) as UpdateMessage;
    assert.deepEqual(
      d.attributes.unknown?.map((u) => u.code),
      [99],
    );
    const wire = wireAttributes(encodeMessage(d, ctx4));
    assert.equal(wire.get(99)?.flags, Flag.Optional | Flag.Transitive | Flag.Partial);
    assert.equal(wire.has(98), false);
  });

  test("a non-transitive one is never encoded, even when handed to the encoder", () => {
    const wire = wireAttributes(encodeMessage(update({ unknown }), ctx4));
    assert.equal(wire.has(98), false);
    assert.equal(wire.has(99), true);
  });
});

describe("RFC 4271 §6.3: NEXT_HOP semantic checks (RFC 7606 treat-as-withdraw)", () => {
  test("0.0.0.0, broadcast, multicast, class E, loopback and our own address are refused; ordinary ones pass", () => {
    for (const bad of [
      "0.0.0.0",
      "255.255.255.255",
      "224.0.0.5",
      "240.0.0.1",
      "127.0.0.1",
      "::",
      "ff02::1",
      "::1",
    ])
      assert.ok(nextHopProblem(bad), bad);
    assert.match(nextHopProblem("192.0.2.2", ["192.0.2.2"]) ?? "", /own address/);
    assert.match(nextHopProblem("fd00::2", ["fd00:0::2%eth0"]) ?? "", /own address/);
    for (const ok of ["192.0.2.1", "10.0.0.1", "198.18.0.1", "fd00::1", "fe80::1", "2001:db8::1"])
      assert.equal(nextHopProblem(ok, ["192.0.2.2"]), undefined, ok);
    assert.equal(
      nextHopProblem("127.0.0.2", ["127.0.0.1"]),
      undefined,
      "over loopback, loopback is the peer",
    );
  });

  test("an UPDATE with a bad NEXT_HOP decodes with a treat-as-withdraw outcome, subcode 8", () => {
    for (const nh of ["0.0.0.0", "224.0.0.1", "192.0.2.2"]) {
      const m = decodeMessage(encodeMessage(update({ nextHop: nh }), ctx4), {
        ...ctx4,
        ownAddresses: ["192.0.2.2"],
      }) as UpdateMessage;
      assert.equal(m.outcomes?.[0]?.action, "treat-as-withdraw", nh);
      assert.equal(m.outcomes?.[0]?.subcode, 8, nh);
      assert.equal(m.outcomes?.[0]?.attribute, 3, nh);
    }
    const good = decodeMessage(encodeMessage(update({}), ctx4), { ...ctx4, ownAddresses: ["192.0.2.2"] });
    assert.equal((good as UpdateMessage).outcomes, undefined);
  });

  test("MP_REACH_NLRI: a multicast global next hop is refused; '::' beside a link-local one is fine", () => {
    const reach = (nextHops: string[]) =>
      decodeMessage(
        encodeMessage(
          {
            type: "update",
            withdrawn: [],
            attributes: {
              origin: "igp",
              asPath: [],
              mpReach: { afi: 2, safi: 1, nextHops, nlri: ["fd00:1::/64"] },
            },
            nlri: [],
          },
          ctx4,
        ),
        ctx4,
      ) as UpdateMessage;
    assert.equal(reach(["ff02::1"]).outcomes?.[0]?.attribute, 14);
    assert.equal(reach(["::", "fe80::1"]).outcomes, undefined);
    assert.equal(reach(["fd00::1", "fe80::1"]).outcomes, undefined);
  });
});
