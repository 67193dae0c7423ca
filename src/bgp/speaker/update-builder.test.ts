import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BgpFrameParser } from "../codec/framing.js";
import { decodeMessage } from "../codec/messages.js";
import type { UpdateMessage } from "../codec/types.js";
import { announceUpdates, withdrawUpdates } from "./update-builder.js";

const ctx = { fourOctetAs: true };
const decodeAll = (bufs: Uint8Array[]) => {
  const parser = new BgpFrameParser();
  return bufs.flatMap((b) => parser.push(b)).map((f) => decodeMessage(f, ctx) as UpdateMessage);
};
const v4 = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);

describe("UPDATE packing", () => {
  const attributes = {
    origin: "igp" as const,
    asPath: [{ type: "sequence" as const, asns: [65001, 65002] }],
    nextHop: "192.0.2.1",
    localPref: 100,
    communities: [0xfde80001],
  };

  test("5,000 IPv4 prefixes go in few messages, every one under 4,096 octets, none lost", () => {
    const bufs = announceUpdates(attributes, v4(5000), ctx);
    for (const b of bufs) assert.ok(b.length <= 4096, `message of ${b.length}`);
    assert.ok(bufs.length <= Math.ceil((5000 * 4) / 3900) + 1, `${bufs.length} messages`);
    const msgs = decodeAll(bufs);
    assert.deepEqual(
      msgs.flatMap((m) => m.nlri),
      v4(5000),
    );
    for (const m of msgs) assert.equal(m.attributes.nextHop, "192.0.2.1");
  });

  test("IPv6 prefixes ride in MP_REACH with the IPv6 next hop; withdrawals in MP_UNREACH", () => {
    const v6 = Array.from({ length: 600 }, (_, i) => `fd00:${(i + 1).toString(16)}::/64`);
    const msgs = decodeAll(announceUpdates(attributes, [...v6, "10.9.0.0/16"], ctx, "fd00::1"));
    assert.deepEqual(
      msgs.flatMap((m) => m.nlri),
      ["10.9.0.0/16"],
    );
    assert.deepEqual(
      msgs.flatMap((m) => m.attributes.mpReach?.nlri ?? []),
      v6,
    );
    assert.ok(msgs.every((m) => !m.attributes.mpReach || m.attributes.mpReach.nextHops[0] === "fd00::1"));
    const w = decodeAll(withdrawUpdates([...v6, ...v4(2000)], ctx));
    assert.deepEqual(
      w.flatMap((m) => m.withdrawn),
      v4(2000),
    );
    assert.deepEqual(
      w.flatMap((m) => m.attributes.mpUnreach?.withdrawn ?? []),
      v6,
    );
  });

  test("IPv6 without an IPv6 next hop is refused, not sent half-formed", () => {
    assert.throws(() => announceUpdates(attributes, ["fd00::/64"], ctx), /IPv6 next hop/);
  });
});
