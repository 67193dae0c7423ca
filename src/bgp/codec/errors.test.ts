import assert from "node:assert/strict";
import { test } from "node:test";
import { BgpError, CeaseSubcode, FsmSubcode, HeaderSubcode, OpenSubcode, UpdateSubcode } from "./errors.js";
import { decodeMessage } from "./messages.js";

test("NOTIFICATION names carry the numbers of RFC 4271 §4.5/§6, RFC 6608 and RFC 4486", () => {
  assert.deepEqual(Object.values(BgpError), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Object.values(HeaderSubcode), [1, 2, 3]);
  assert.equal(OpenSubcode.UnacceptableHoldTime, 6, "5 is deprecated (RFC 4271 §6.2)");
  assert.equal(UpdateSubcode.InvalidNextHopAttribute, 8, "7 is deprecated (RFC 4271 §6.3)");
  assert.equal(UpdateSubcode.MalformedAsPath, 11);
  assert.deepEqual(Object.values(FsmSubcode), [0, 1, 2, 3]);
  assert.equal(CeaseSubcode.ConnectionCollisionResolution, 7);
  assert.equal(CeaseSubcode.MaximumPrefixesReached, 1);
});

test("a decoding failure reports the named code and subcode (a bad marker: Message Header / not synchronized)", () => {
  const msg = new Uint8Array(19).fill(0xff);
  msg[0] = 0;
  msg[17] = 19;
  msg[18] = 4;
  assert.throws(
    () => decodeMessage(msg, { fourOctetAs: true }),
    (e: { errorCode: number; subcode: number }) =>
      e.errorCode === BgpError.MessageHeader && e.subcode === HeaderSubcode.ConnectionNotSynchronized,
  );
});
