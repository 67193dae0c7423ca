import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { endOfRib, endOfRibFamily, ipv4Unicast, ipv6Unicast } from "./end-of-rib.js";
import { BgpCodecError } from "./errors.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import type { Capability, OpenMessage } from "./types.js";

const ctx = { fourOctetAs: true };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const marker = "ff".repeat(16);

const openWith = (capabilities: Capability[]): OpenMessage => ({
  type: "open",
  version: 4,
  asn: 65001,
  holdTime: 90,
  bgpId: "10.0.0.1",
  capabilities,
});

/** An OPEN whose one capability parameter carries these capability bytes (code 64 and its value). */
function openBytes(capValueHex: string): Uint8Array {
  const cap = `40${(capValueHex.length / 2).toString(16).padStart(2, "0")}${capValueHex}`;
  const param = `02${(cap.length / 2).toString(16).padStart(2, "0")}${cap}`;
  const body = `04fde9005a0a000001${(param.length / 2).toString(16).padStart(2, "0")}${param}`;
  const len = (19 + body.length / 2).toString(16).padStart(4, "0");
  return Buffer.from(`${marker}${len}01${body}`, "hex");
}

describe("graceful restart capability (RFC 4724 §3)", () => {
  test("golden bytes: R and N bits, 12-bit time, per-family F bit", () => {
    const cap: Capability = {
      kind: "graceful-restart",
      restarting: true,
      notification: true,
      restartTime: 4095,
      families: [
        { afi: 1, safi: 1, forwarding: true },
        { afi: 2, safi: 1, forwarding: false },
      ],
    };
    const bytes = encodeMessage(openWith([cap]), ctx);
    // 0x8000 | 0x4000 | 0x0fff = 0xcfff; then 0001 01 80, 0002 01 00.
    assert.ok(hex(bytes).endsWith("400acfff0001018000020100"), hex(bytes));
    assert.deepEqual(decodeMessage(bytes, ctx), openWith([cap]));
  });

  test("no families (a helper that keeps no forwarding state of its own) round-trips", () => {
    const cap: Capability = {
      kind: "graceful-restart",
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [],
    };
    const bytes = encodeMessage(openWith([cap]), ctx);
    assert.ok(hex(bytes).endsWith("40020078"));
    assert.deepEqual(decodeMessage(bytes, ctx), openWith([cap]));
  });

  test("the reserved flag bits and the F byte's reserved bits are ignored on receipt", () => {
    const m = decodeMessage(openBytes("3078000101ff"), ctx) as OpenMessage;
    assert.deepEqual(m.capabilities[0], {
      kind: "graceful-restart",
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, forwarding: true }],
    });
  });

  test("a length that is not 2 + 4 per family is a malformed OPEN (code 2)", () => {
    for (const v of ["", "00", "0078000101", "007800010180ff"]) {
      assert.throws(
        () => decodeMessage(openBytes(v), ctx),
        (e: unknown) => e instanceof BgpCodecError && e.errorCode === 2 && /graceful-restart/.test(e.message),
        `value ${v}`,
      );
    }
  });

  test("a family listed twice is refused", () => {
    assert.throws(() => decodeMessage(openBytes("00780001018000010100"), ctx), /twice/);
  });

  test("a restart time beyond 12 bits is refused when encoding (never silently truncated)", () => {
    for (const restartTime of [4096, -1, 1.5]) {
      const cap: Capability = { kind: "graceful-restart", restarting: false, restartTime, families: [] };
      assert.throws(() => encodeMessage(openWith([cap]), ctx), RangeError);
    }
  });
});

describe("End-of-RIB (RFC 4724 §2)", () => {
  test("IPv4 unicast: an UPDATE of 23 octets with nothing in it", () => {
    const b = encodeMessage(endOfRib(ipv4Unicast), ctx);
    assert.equal(hex(b), `${marker}00170200000000`);
    assert.deepEqual(endOfRibFamily(decodeMessage(b, ctx) as never), ipv4Unicast);
  });

  test("IPv6 unicast: MP_UNREACH_NLRI with AFI/SAFI and no prefixes", () => {
    const b = encodeMessage(endOfRib(ipv6Unicast), ctx);
    // attributes length 6: flags 0x80 (optional), type 15, length 3, AFI 2, SAFI 1.
    assert.equal(hex(b), `${marker}001d0200000006800f03000201`);
    assert.deepEqual(endOfRibFamily(decodeMessage(b, ctx) as never), ipv6Unicast);
  });

  test("ordinary UPDATEs are not markers", () => {
    const base = { type: "update" as const, withdrawn: [], nlri: [] };
    assert.equal(endOfRibFamily({ ...base, withdrawn: ["10.0.0.0/8"], attributes: {} }), undefined);
    assert.equal(
      endOfRibFamily({
        ...base,
        attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: ["2001:db8::/32"] } },
      }),
      undefined,
    );
    assert.equal(
      endOfRibFamily({
        ...base,
        attributes: { origin: "igp", mpUnreach: { afi: 2, safi: 1, withdrawn: [] } },
      }),
      undefined,
    );
    assert.equal(
      endOfRibFamily({
        ...base,
        attributes: {},
        outcomes: [{ action: "treat-as-withdraw", attribute: 3, subcode: 8, reason: "x" }],
      }),
      undefined,
    );
  });
});
