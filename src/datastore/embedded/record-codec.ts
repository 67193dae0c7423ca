import { crc32c } from "./crc32c.js";

/**
 * The framing of every record in the embedded store's files (log and snapshot). Pure: bytes in,
 * records out.
 *
 *   offset 0  magic    3 bytes  "SKV"
 *   offset 3  version  1 byte   1
 *   offset 4  length   u32 LE   payload bytes
 *   offset 8  checksum u32 LE   CRC-32C of the 4 length bytes, continued over the payload
 *   offset 12 payload  `length` bytes (UTF-8 JSON)
 *
 * The checksum covers the length, so a flipped length bit is caught like a flipped payload bit.
 * JSON text never holds a raw 0x01 byte, so the magic+version cannot occur inside a payload: a
 * scan for the next valid header after damaged bytes finds only real records (or, once in 2^32,
 * bytes whose checksum happens to match).
 */
export const RECORD_MAGIC = Uint8Array.of(0x53, 0x4b, 0x56); // "SKV"
export const RECORD_VERSION = 1;
export const HEADER_BYTES = 12;
/** Larger payloads are refused when written and read as damage (a garbage length). */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

const HEADER_V1 = Uint8Array.of(...RECORD_MAGIC, RECORD_VERSION);

export class RecordTooLargeError extends RangeError {
  constructor(readonly bytes: number) {
    super(`record of ${bytes} bytes is larger than the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
}

/** Frame one payload. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RecordTooLargeError(payload.length);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out.set(HEADER_V1, 0);
  view.setUint32(4, payload.length, true);
  out.set(payload, HEADER_BYTES);
  view.setUint32(8, checksum(out, 0), true);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const encodeJsonRecord = (value: unknown): Uint8Array =>
  encodeRecord(encoder.encode(JSON.stringify(value)));

/** Why the bytes at an offset are not a record. */
export type RecordFault =
  | "truncated-header" // fewer than 12 bytes left
  | "bad-magic"
  | "unsupported-version" // "SKV" with another version byte: written by another Strata
  | "bad-length" // over MAX_PAYLOAD_BYTES
  | "truncated-payload" // the length runs past the end of the bytes
  | "checksum-mismatch";

export type RecordRead =
  | { readonly ok: true; readonly payload: Uint8Array; readonly end: number }
  | { readonly ok: false; readonly fault: RecordFault };

/** CRC-32C of the length field and the payload of the record at `offset` (not of the checksum field). */
const checksum = (bytes: Uint8Array, offset: number, end = bytes.length) =>
  crc32c(bytes, crc32c(bytes, 0, offset + 4, offset + 8), offset + HEADER_BYTES, end);

/** The record starting at `offset`, or why there is none. */
export function readRecordAt(bytes: Uint8Array, offset: number): RecordRead {
  if (bytes.length - offset < HEADER_BYTES) return { ok: false, fault: "truncated-header" };
  if (bytes[offset] !== 0x53 || bytes[offset + 1] !== 0x4b || bytes[offset + 2] !== 0x56)
    return { ok: false, fault: "bad-magic" };
  if (bytes[offset + 3] !== RECORD_VERSION) return { ok: false, fault: "unsupported-version" };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_BYTES);
  const length = view.getUint32(4, true);
  if (length > MAX_PAYLOAD_BYTES) return { ok: false, fault: "bad-length" };
  const end = offset + HEADER_BYTES + length;
  if (end > bytes.length) return { ok: false, fault: "truncated-payload" };
  if (checksum(bytes, offset, end) !== view.getUint32(8, true))
    return { ok: false, fault: "checksum-mismatch" };
  return { ok: true, payload: bytes.subarray(offset + HEADER_BYTES, end), end };
}

/** Offset of the first valid record that starts after `from`, or undefined. */
export function findNextRecord(bytes: Uint8Array, from: number): number | undefined {
  for (let at = indexOf(bytes, HEADER_V1, from + 1); at >= 0; at = indexOf(bytes, HEADER_V1, at + 1))
    if (readRecordAt(bytes, at).ok) return at;
  return undefined;
}

function indexOf(bytes: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (let i = bytes.indexOf(first as number, from); i >= 0; i = bytes.indexOf(first as number, i + 1)) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

export interface FramedRecord {
  readonly offset: number;
  readonly payload: Uint8Array;
}

export interface RecordDamage {
  /** Where the first bad record starts. */
  readonly offset: number;
  readonly fault: RecordFault;
  /** The next valid record after it; undefined when none follows (a torn tail). */
  readonly resumesAt: number | undefined;
}

export interface ScanResult {
  readonly records: FramedRecord[];
  /** End of the last good record before any damage (the length a clean file would have). */
  readonly goodEnd: number;
  readonly damage: RecordDamage | undefined;
}

/**
 * Read records from the start until the end or the first bad one (handed to `visit` as they
 * come, when given, instead of collected in `records`). Damage with a valid record
 * after it is damage in the middle; damage with nothing valid after it is a torn tail (a crash
 * in the middle of an append).
 */
export function scanRecords(
  bytes: Uint8Array,
  visit?: (offset: number, payload: Uint8Array) => void,
): ScanResult {
  const records: FramedRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const r = readRecordAt(bytes, offset);
    if (!r.ok)
      return {
        records,
        goodEnd: offset,
        damage: { offset, fault: r.fault, resumesAt: findNextRecord(bytes, offset) },
      };
    if (visit) visit(offset, r.payload);
    else records.push({ offset, payload: r.payload });
    offset = r.end;
  }
  return { records, goodEnd: offset, damage: undefined };
}

export interface SalvageResult {
  readonly records: FramedRecord[];
  /** Byte ranges that held no valid record, in file order. */
  readonly dropped: { readonly offset: number; readonly length: number; readonly fault: RecordFault }[];
}

/** Every intact record, skipping damaged bytes up to the next valid header (for repair). */
export function salvageRecords(bytes: Uint8Array): SalvageResult {
  const records: FramedRecord[] = [];
  const dropped: SalvageResult["dropped"][number][] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const r = readRecordAt(bytes, offset);
    if (r.ok) {
      records.push({ offset, payload: r.payload });
      offset = r.end;
      continue;
    }
    const next = findNextRecord(bytes, offset) ?? bytes.length;
    dropped.push({ offset, length: next - offset, fault: r.fault });
    offset = next;
  }
  return { records, dropped };
}

/** A payload as JSON, or undefined when it is not UTF-8 JSON (a checksum collision or a bug). */
export function decodeJsonPayload(payload: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(payload));
  } catch {
    return undefined;
  }
}
