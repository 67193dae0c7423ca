import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { crc32c } from "./crc32c.js";
import { decodeLogRecord, decodeSnapshotRecord, encodeLogRecord } from "./log-records.js";
import {
  decodeJsonPayload,
  encodeJsonRecord,
  encodeRecord,
  HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  RecordTooLargeError,
  readRecordAt,
  salvageRecords,
  scanRecords,
} from "./record-codec.js";

const text = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe("CRC-32C", () => {
  test("matches the RFC 3720 (iSCSI) B.4 test vectors and the standard check value", () => {
    assert.equal(crc32c(text("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  test("continues across any split of the input (slicing and byte-wise paths agree)", () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff);
    const whole = crc32c(data);
    for (let cut = 0; cut <= data.length; cut++)
      assert.equal(crc32c(data, crc32c(data, 0, 0, cut), cut), whole, `split at ${cut}`);
  });
});

describe("record framing", () => {
  test("golden bytes: magic SKV, version 1, length LE, CRC-32C of length and payload", () => {
    const r = encodeRecord(text('{"a":1}'));
    // Checksum from an independent bit-by-bit CRC-32C: 0x347955ab, little-endian.
    assert.equal(hex(r), `534b5601${"07000000"}${"ab557934"}${hex(text('{"a":1}'))}`);
    const crc = crc32c(text('{"a":1}'), crc32c(Uint8Array.of(7, 0, 0, 0)));
    assert.equal(Buffer.from(r).readUInt32LE(8), crc);
  });

  test("round trip of empty, small, multi-byte UTF-8 and large payloads, at any offset", () => {
    for (const value of [
      {},
      { op: "put", key: "/k", value: "v" },
      { k: "ünïcødé ✔ 日本" },
      { big: "x".repeat(100_000) },
    ]) {
      const rec = encodeJsonRecord(value);
      const inside = join(Uint8Array.of(1, 2, 3), rec, Uint8Array.of(9));
      const r = readRecordAt(inside, 3);
      assert.ok(r.ok);
      assert.equal(r.end, 3 + rec.length);
      assert.deepEqual(decodeJsonPayload(r.payload), value);
    }
  });

  test("every single flipped bit of a record is detected", () => {
    const rec = encodeJsonRecord({ op: "put", key: "/registry/subnets/n1", value: '{"node":"n1"}', rev: 42 });
    for (let i = 0; i < rec.length; i++)
      for (let bit = 0; bit < 8; bit++) {
        const bad = Uint8Array.from(rec);
        bad[i] = (bad[i] as number) ^ (1 << bit);
        assert.equal(readRecordAt(bad, 0).ok, false, `byte ${i} bit ${bit}`);
      }
  });

  test("faults are named: short header, bad magic, other version, length past the end, checksum", () => {
    const rec = encodeJsonRecord({ a: 1 });
    const fault = (b: Uint8Array) => {
      const r = readRecordAt(b, 0);
      return r.ok ? "ok" : r.fault;
    };
    assert.equal(fault(rec.subarray(0, 11)), "truncated-header");
    assert.equal(fault(join(text("XKV"), rec.subarray(3))), "bad-magic");
    assert.equal(fault(join(text("SKV"), Uint8Array.of(2), rec.subarray(4))), "unsupported-version");
    assert.equal(fault(rec.subarray(0, rec.length - 1)), "truncated-payload");
    const long = Uint8Array.from(rec);
    new DataView(long.buffer).setUint32(4, MAX_PAYLOAD_BYTES + 1, true);
    assert.equal(fault(long), "bad-length");
    const flipped = Uint8Array.from(rec);
    flipped[HEADER_BYTES] = 0x20;
    assert.equal(fault(flipped), "checksum-mismatch");
  });

  test("a payload over the limit is refused when written", () => {
    assert.throws(() => encodeRecord(new Uint8Array(MAX_PAYLOAD_BYTES + 1)), RecordTooLargeError);
  });
});

describe("scanning a file of records", () => {
  const recs = [0, 1, 2, 3].map((i) => encodeJsonRecord({ i, pad: "p".repeat(i * 5) }));
  const file = join(...recs);
  const starts = recs.map((_, i) => recs.slice(0, i).reduce((n, r) => n + r.length, 0));

  test("a clean file yields every record and no damage", () => {
    const s = scanRecords(file);
    assert.equal(s.damage, undefined);
    assert.deepEqual(
      s.records.map((r) => r.offset),
      starts,
    );
    assert.equal(s.goodEnd, file.length);
  });

  test("cut at every byte of the last record: a torn tail (nothing valid after), the others intact", () => {
    const last = starts[3] as number;
    for (let cut = last + 1; cut < file.length; cut++) {
      const s = scanRecords(file.subarray(0, cut));
      assert.equal(s.records.length, 3, `cut at ${cut}`);
      assert.equal(s.goodEnd, last);
      assert.equal(s.damage?.offset, last);
      assert.equal(s.damage?.resumesAt, undefined, "no valid record after a torn tail");
    }
  });

  test("zeroes after the last record (a crash after the size grew) are a torn tail", () => {
    const s = scanRecords(join(file, new Uint8Array(4096)));
    assert.equal(s.records.length, 4);
    assert.deepEqual(s.damage, { offset: file.length, fault: "bad-magic", resumesAt: undefined });
  });

  test("damage in the middle is told apart: valid records follow it, and where", () => {
    for (const at of [starts[1] as number, (starts[1] as number) + 5, (starts[2] as number) + 13]) {
      const bad = Uint8Array.from(file);
      bad[at] = (bad[at] as number) ^ 0x40;
      const s = scanRecords(bad);
      const hit = starts.findLastIndex((o) => o <= at);
      assert.equal(s.records.length, hit);
      assert.equal(s.damage?.offset, starts[hit]);
      assert.equal(s.damage?.resumesAt, starts[hit + 1]);
    }
  });

  test("a length field damaged to point past the end is not mistaken for a torn tail", () => {
    const bad = Uint8Array.from(file);
    new DataView(bad.buffer).setUint32((starts[1] as number) + 4, 1_000_000, true);
    const s = scanRecords(bad);
    assert.equal(s.damage?.fault, "truncated-payload");
    assert.equal(s.damage?.resumesAt, starts[2]);
  });

  test("salvage keeps every intact record around garbage and reports the dropped ranges", () => {
    const garbage = text("\u0000garbage SKV\u0001 not a record");
    const damaged = join(
      recs[0] as Uint8Array,
      garbage,
      recs[1] as Uint8Array,
      recs[2] as Uint8Array,
      text("torn"),
    );
    const s = salvageRecords(damaged);
    assert.deepEqual(
      s.records.map((r) => decodeJsonPayload(r.payload)),
      [0, 1, 2].map((i) => ({ i, pad: "p".repeat(i * 5) })),
    );
    assert.deepEqual(
      s.dropped.map((d) => [d.offset, d.length]),
      [
        [(recs[0] as Uint8Array).length, garbage.length],
        [damaged.length - 4, 4],
      ],
    );
  });
});

describe("log and snapshot records", () => {
  test("a mutation round-trips with its revision; wrong shapes are refused", () => {
    const r = readRecordAt(encodeLogRecord({ op: "put", key: "/k", value: "v", lease: "3" }, 7, 4), 0);
    assert.ok(r.ok);
    assert.deepEqual(decodeLogRecord(r.payload), {
      mutation: { op: "put", key: "/k", value: "v", lease: "3" },
      rev: 7,
      leaseCounter: 4,
    });
    for (const bad of [
      { op: "put", key: "/k", rev: 1 },
      { op: "put", key: 1, value: "v", rev: 1 },
      { op: "grant", lease: "1", ttl: -1, rev: 1 },
      { op: "delete", key: "/k" },
      { op: "delete", key: "/k", rev: 1, lc: "x" },
      { op: "drop-table", rev: 1 },
      [],
    ])
      assert.equal(decodeLogRecord(text(JSON.stringify(bad))), undefined, JSON.stringify(bad));
    assert.equal(decodeLogRecord(Uint8Array.of(0xff, 0xfe)), undefined, "not UTF-8");
  });

  test("snapshot records are checked field by field", () => {
    assert.deepEqual(decodeSnapshotRecord(text('{"op":"end","records":2}')), { op: "end", records: 2 });
    assert.equal(
      decodeSnapshotRecord(
        text('{"op":"kv","kv":{"key":"/k","value":"v","modRevision":-1,"createRevision":1}}'),
      ),
      undefined,
    );
  });
});
