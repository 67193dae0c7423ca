import type { KeyValue } from "../api.js";
import type { KvState } from "./kv-state.js";
import { encodeSnapshotRecord } from "./log-records.js";
import { snapshotFile, writeFileAtomic, writeFileAtomicSync } from "./store-files.js";

/** The live state at one moment, cheap to take (KeyValue objects are never mutated). */
export interface SnapshotCapture {
  readonly revision: number;
  readonly nextLease: number;
  readonly walGen: number;
  readonly leases: readonly (readonly [string, number])[];
  readonly kvs: readonly KeyValue[];
}

export function captureSnapshot(state: KvState, walGen: number): SnapshotCapture {
  return {
    revision: state.revision,
    nextLease: state.nextLease,
    walGen,
    leases: [...state.leases].map(([id, l]) => [id, l.ttl] as const),
    kvs: [...state.data.values()],
  };
}

/** Every framed record of a snapshot, in file order. */
export function* snapshotRecords(c: SnapshotCapture): Generator<Uint8Array> {
  yield encodeSnapshotRecord({
    op: "snapshot",
    revision: c.revision,
    nextLease: c.nextLease,
    walGen: c.walGen,
  });
  for (const [lease, ttl] of c.leases) yield encodeSnapshotRecord({ op: "lease", lease, ttl });
  for (const kv of c.kvs) yield encodeSnapshotRecord({ op: "kv", kv });
  yield encodeSnapshotRecord({ op: "end", records: c.leases.length + c.kvs.length });
}

/** The same records a few thousand at a time, letting the event loop run in between. */
export async function* snapshotChunks(c: SnapshotCapture, perChunk = 4096): AsyncIterable<Uint8Array> {
  let batch: Uint8Array[] = [];
  for (const r of snapshotRecords(c)) {
    batch.push(r);
    if (batch.length >= perChunk) {
      yield concat(batch);
      batch = [];
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (batch.length) yield concat(batch);
}

export const writeSnapshot = (dir: string, c: SnapshotCapture): Promise<void> =>
  writeFileAtomic(dir, snapshotFile(dir), snapshotChunks(c));

export const writeSnapshotSync = (dir: string, c: SnapshotCapture): void =>
  writeFileAtomicSync(dir, snapshotFile(dir), [...snapshotRecords(c)]);

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
