import assert from "node:assert/strict";
import { test } from "node:test";
import { mutatedMessage, randomUpdate, seedMessages } from "../../../test/support/bgp-fuzz-corpus.js";
import { prng } from "../../../test/support/prng.js";
import { decodeMessage, encodeMessage } from "./messages.js";
import type { CodecContext, DecodedAttributes, UpdateMessage } from "./types.js";

/** The decoder's outcome for `b`: the message, or the error's class and text. */
const outcome = (b: Uint8Array, ctx: CodecContext) => {
  try {
    return decodeMessage(b, ctx);
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
};

test("decoding with a session's attribute memo gives what decoding without it gives, message after message", () => {
  const r = prng(15);
  const memo: DecodedAttributes = new Map();
  const own = ["192.0.2.9"];
  const plain: CodecContext = { fourOctetAs: true, ownAddresses: own };
  const memoised: CodecContext = { ...plain, decodedAttributes: memo };
  const seeds = seedMessages(r);
  // Each message twice (the second is a memo hit), random and mutated ones mixed: errors included.
  for (let i = 0; i < 3000; i++) {
    const b = i % 2 === 0 ? encodeMessage(randomUpdate(r), plain) : mutatedMessage(r, seeds);
    for (let k = 0; k < 2; k++) assert.deepEqual(outcome(b, memoised), outcome(b, plain));
  }
  assert.ok(memo.size > 0, "the memo was used");
});

test("one attribute section repeated in 1-prefix UPDATEs decodes once: every repeat yields the same object", () => {
  const ctx: CodecContext = { fourOctetAs: true, decodedAttributes: new Map() };
  const attributes = { origin: "igp" as const, asPath: [], nextHop: "192.0.2.1", localPref: 100 };
  const decoded = Array.from({ length: 50 }, (_, i) => {
    const u: UpdateMessage = { type: "update", withdrawn: [], attributes, nlri: [`10.0.${i}.0/24`] };
    return decodeMessage(encodeMessage(u, ctx), ctx) as UpdateMessage;
  });
  assert.equal(new Set(decoded.map((d) => d.attributes)).size, 1);
  assert.deepEqual(
    decoded.map((d) => d.nlri[0]),
    Array.from({ length: 50 }, (_, i) => `10.0.${i}.0/24`),
  );
});

test("a NEXT_HOP that is our own address is treated as withdrawn on the repeat too", () => {
  const ctx: CodecContext = { fourOctetAs: true, ownAddresses: ["192.0.2.9"], decodedAttributes: new Map() };
  const u: UpdateMessage = {
    type: "update",
    withdrawn: [],
    attributes: { origin: "igp", asPath: [], nextHop: "192.0.2.9" },
    nlri: ["10.1.0.0/24"],
  };
  for (let k = 0; k < 2; k++) {
    const d = decodeMessage(encodeMessage(u, ctx), ctx) as UpdateMessage;
    assert.equal(d.outcomes?.[0]?.action, "treat-as-withdraw");
  }
});
