import type { KeyValue } from "../api.js";
import type { Mutation } from "./kv-state.js";
import { decodeJsonPayload, encodeJsonRecord } from "./record-codec.js";

/**
 * What the framed records of the store's files hold (JSON payloads of record-codec.ts).
 *
 * A log file (`wal-<gen>.kv`) is a sequence of mutations, each with the store revision it
 * produced. A snapshot (`snapshot.kv`) is a header, every lease, every key with its revisions,
 * and an end record counting the records between them, so a snapshot missing its end is known to
 * be incomplete.
 */
export interface LogRecord {
  readonly mutation: Mutation;
  /** The store revision after the mutation. */
  readonly rev: number;
  /**
   * The next lease id at the time (`lc` on disk). In every record, so that after a repair dropped
   * a grant, a later record still keeps its id from being handed out again.
   */
  readonly leaseCounter: number | undefined;
}

export type SnapshotRecord =
  | {
      readonly op: "snapshot";
      readonly revision: number;
      readonly nextLease: number;
      /** The first log generation not contained in this snapshot. */
      readonly walGen: number;
    }
  | { readonly op: "lease"; readonly lease: string; readonly ttl: number }
  | { readonly op: "kv"; readonly kv: KeyValue }
  | { readonly op: "end"; readonly records: number };

const isStr = (v: unknown): v is string => typeof v === "string";
const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isTtl = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
type Obj = Record<string, unknown>;
const optLease = (o: Obj) => o.lease === undefined || isStr(o.lease);

export const encodeLogRecord = (m: Mutation, rev: number, leaseCounter?: number): Uint8Array =>
  encodeJsonRecord({ ...m, rev, ...(leaseCounter !== undefined ? { lc: leaseCounter } : {}) });

/** A log record's payload, or undefined when it is not one (checked field by field). */
export function decodeLogRecord(payload: Uint8Array): LogRecord | undefined {
  const o = decodeJsonPayload(payload) as Obj | undefined;
  if (!o || typeof o !== "object" || !isNat(o.rev) || (o.lc !== undefined && !isNat(o.lc))) return undefined;
  const mutation = decodeMutation(o);
  return mutation && { mutation, rev: o.rev, leaseCounter: o.lc as number | undefined };
}

function decodeMutation(o: Obj): Mutation | undefined {
  switch (o.op) {
    case "put":
      return isStr(o.key) && isStr(o.value) && optLease(o)
        ? isStr(o.lease)
          ? { op: "put", key: o.key, value: o.value, lease: o.lease }
          : { op: "put", key: o.key, value: o.value }
        : undefined;
    case "delete":
      return isStr(o.key) ? { op: "delete", key: o.key } : undefined;
    case "grant":
      return isStr(o.lease) && isTtl(o.ttl) ? { op: "grant", lease: o.lease, ttl: o.ttl } : undefined;
    case "revoke":
      return isStr(o.lease) ? { op: "revoke", lease: o.lease } : undefined;
    default:
      return undefined;
  }
}

/** A mutation of the old line-based log (`kv.log`, one JSON object a line, no revisions). */
export function decodeLegacyLine(line: string): Mutation | undefined {
  try {
    const o = JSON.parse(line) as Obj;
    return o && typeof o === "object" ? decodeMutation(o) : undefined;
  } catch {
    return undefined;
  }
}

export const encodeSnapshotRecord = (r: SnapshotRecord): Uint8Array => encodeJsonRecord(r);

export function decodeSnapshotRecord(payload: Uint8Array): SnapshotRecord | undefined {
  const o = decodeJsonPayload(payload) as Obj | undefined;
  if (!o || typeof o !== "object") return undefined;
  switch (o.op) {
    case "snapshot":
      return isNat(o.revision) && isNat(o.nextLease) && isNat(o.walGen)
        ? { op: "snapshot", revision: o.revision, nextLease: o.nextLease, walGen: o.walGen }
        : undefined;
    case "lease":
      return isStr(o.lease) && isTtl(o.ttl) ? { op: "lease", lease: o.lease, ttl: o.ttl } : undefined;
    case "kv": {
      const kv = o.kv as Obj | undefined;
      if (!kv || typeof kv !== "object") return undefined;
      return isStr(kv.key) &&
        isStr(kv.value) &&
        isNat(kv.modRevision) &&
        isNat(kv.createRevision) &&
        optLease(kv)
        ? {
            op: "kv",
            kv: isStr(kv.lease)
              ? {
                  key: kv.key,
                  value: kv.value,
                  modRevision: kv.modRevision,
                  createRevision: kv.createRevision,
                  lease: kv.lease,
                }
              : {
                  key: kv.key,
                  value: kv.value,
                  modRevision: kv.modRevision,
                  createRevision: kv.createRevision,
                },
          }
        : undefined;
    }
    case "end":
      return isNat(o.records) ? { op: "end", records: o.records } : undefined;
    default:
      return undefined;
  }
}
