import assert from "node:assert/strict";
import { test } from "node:test";
import { mutatedMessage, randomUpdate, seedMessages } from "../../../test/support/bgp-fuzz-corpus.js";
import { prng } from "../../../test/support/prng.js";
import { BgpCodecError } from "./errors.js";
import { BgpFrameParser } from "./framing.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import type { UpdateMessage } from "./types.js";

test("property: decode(encode(x)) equals x for random UPDATEs", () => {
  const r = prng(7);
  for (let i = 0; i < 2000; i++) {
    const u = randomUpdate(r);
    const d = decodeMessage(encodeMessage(u, { fourOctetAs: true }), { fourOctetAs: true }) as UpdateMessage;
    assert.deepEqual(d.attributes, u.attributes);
    assert.deepEqual(d.nlri, u.nlri);
    assert.deepEqual(d.withdrawn, u.withdrawn);
  }
});

test("fuzz: 100,000 random and mutated messages either decode or raise BgpCodecError", () => {
  const r = prng(42);
  const ctx = { fourOctetAs: true };
  const seeds = seedMessages(r);
  let decoded = 0;
  let rejected = 0;
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) {
    const m = mutatedMessage(r, seeds);
    try {
      decodeMessage(m, ctx);
      decoded++;
    } catch (e) {
      if (!(e instanceof BgpCodecError))
        throw new Error(`iteration ${i}: ${String(e)} for ${Buffer.from(m).toString("hex")}`);
      assert.ok(e.errorCode >= 1 && e.errorCode <= 6);
      rejected++;
    }
    if (i % 1000 === 0) {
      try {
        new BgpFrameParser().push(m);
      } catch (e) {
        if (!(e instanceof BgpCodecError)) throw e;
      }
    }
  }
  const ms = performance.now() - started;
  assert.ok(decoded > 1000 && rejected > 1000, `decoded ${decoded}, rejected ${rejected}`);
  assert.ok(ms < 60_000);
});
