import assert from "node:assert/strict";
import { test } from "node:test";
import { dumpBatch, nftCapture } from "../../../test/support/nf-batch-dump.js";
import { encodeBatch, type NfMessage } from "../../kernel/nftables/codec.js";
import { SetKeyError } from "../../kernel/nftables/keys.js";
import { allowMessages, forgetMessages, guardTableMessages } from "./source-guard-netlink.js";
import type { GuardFamily, PortSources } from "./source-guard-plan.js";

const pod: PortSources = { port: "vethabc", v4: ["10.1.0.5"], v6: ["fd00::5"] };
const families: readonly GuardFamily[] = ["bridge", "inet"];
const batch = (m: readonly NfMessage[]) => encodeBatch(m, 100).bytes;

/** Each message of a batch with its sequence number and NLM_F_ACK zeroed. */
function messages(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    const m = Buffer.from(buf.subarray(off, off + len));
    m.writeUInt16LE(m.readUInt16LE(6) & ~0x4, 6);
    m.writeUInt32LE(0, 8);
    out.push(m);
    off += (len + 3) & ~3;
  }
  return out;
}

for (const family of families) {
  test(`${family}: the guard table's batch says what nft 1.0.6 sends for guardTableScript`, () => {
    assert.deepEqual(dumpBatch(batch(guardTableMessages(family))), dumpBatch(nftCapture(family)));
  });

  test(`${family}: allow and forget batches say what nft sends for allowScript and forgetScript`, () => {
    assert.deepEqual(dumpBatch(batch(allowMessages(family, pod))), dumpBatch(nftCapture(`${family}-allow`)));
    assert.deepEqual(
      dumpBatch(batch(forgetMessages(family, [pod]))),
      dumpBatch(nftCapture(`${family}-forget`)),
    );
  });

  test(`${family}: rules, counters and chains are nft's bytes exactly (but sequence numbers and ACK)`, () => {
    const ours = messages(batch(guardTableMessages(family)));
    const nft = messages(nftCapture(family));
    assert.equal(ours.length, nft.length);
    const type = (m: Buffer) => m.readUInt16LE(4);
    let compared = 0;
    for (const [i, m] of ours.entries()) {
      // NEWCHAIN 0xa03, NEWRULE 0xa06, DELRULE 0xa08, NEWOBJ 0xa12; BEGIN and END.
      if (![0xa03, 0xa06, 0xa08, 0xa12, 0x10, 0x11].includes(type(m))) continue;
      assert.equal(m.toString("hex"), nft[i]?.toString("hex"), `message ${i}`);
      compared++;
    }
    assert.ok(compared >= 12, `${compared} messages compared`);
  });
}

test("the batch: BEGIN with res_id NFNL_SUBSYS_NFTABLES, every message asks for an ACK, END; seq numbered from the first", () => {
  const b = encodeBatch(allowMessages("inet", pod), 0xfffffffe);
  const all = [] as { type: number; flags: number; seq: number }[];
  for (let off = 0; off < b.bytes.length; ) {
    const len = b.bytes.readUInt32LE(off);
    all.push({
      type: b.bytes.readUInt16LE(off + 4),
      flags: b.bytes.readUInt16LE(off + 6),
      seq: b.bytes.readUInt32LE(off + 8),
    });
    off += len;
  }
  assert.deepEqual(
    all.map((m) => [m.type, m.flags, m.seq]),
    [
      [0x10, 0x1, 0xfffffffe],
      [0xa0c, 0x405, 0xffffffff],
      [0xa0c, 0x405, 0],
      [0xa0c, 0x405, 1],
      [0x11, 0x1, 2],
    ],
  );
  assert.equal(b.bytes.subarray(16, 20).toString("hex"), "0000000a");
});

test("forget of several ports: one add and one delete message per set, every port's keys in them", () => {
  const two = forgetMessages("bridge", [pod, { port: "vethdef", v4: ["10.1.0.6"], v6: [] }]);
  assert.deepEqual(
    two.map((m) => m.what),
    [
      "add element bridge strata-antispoof ports",
      "add element bridge strata-antispoof v4",
      "add element bridge strata-antispoof v6",
      "delete element bridge strata-antispoof ports",
      "delete element bridge strata-antispoof v4",
      "delete element bridge strata-antispoof v6",
    ],
  );
  const text = dumpBatch(batch(two)).join("\n");
  assert.match(text, /766574686465660000000000000000000a010006/, "vethdef . 10.1.0.6");
});

test("a port name or address that cannot be a key is refused, naming it", () => {
  assert.throws(() => allowMessages("inet", { port: "a-name-far-too-long", v4: [], v6: [] }), SetKeyError);
  assert.throws(
    () => allowMessages("inet", { port: "veth1", v4: ["10.1.0.300"], v6: [] }),
    /"10.1.0.300" is not an IPv4 address/,
  );
  assert.throws(
    () => allowMessages("inet", { port: "veth1", v4: [], v6: ["10.1.0.3"] }),
    /not an IPv6 address/,
  );
});
