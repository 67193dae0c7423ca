import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { DatastoreError } from "../api.js";
import { KvState } from "./kv-state.js";
import { describeFault, legacyLines } from "./load-store.js";
import {
  decodeLegacyLine,
  decodeLogRecord,
  decodeSnapshotRecord,
  encodeSnapshotRecord,
  type SnapshotRecord,
} from "./log-records.js";
import { encodeRecord, type FramedRecord, HEADER_BYTES, salvageRecords } from "./record-codec.js";
import {
  fsyncDir,
  legacyLogFile,
  listWalGens,
  removeTempFiles,
  snapshotFile,
  walFile,
  writeFileAtomicSync,
} from "./store-files.js";
import { lockStoreDir } from "./store-lock.js";

export interface RepairDrop {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
  readonly reason: string;
}

export interface RepairReport {
  readonly dir: string;
  /** Files written anew (each atomically). */
  readonly rewritten: string[];
  readonly dropped: RepairDrop[];
  /** Other changes (a rebuilt snapshot header, renumbered logs). */
  readonly notes: string[];
  /** Records kept, over all files. */
  readonly kept: number;
  /** The store's revision after the repair (never lower than before: records keep theirs). */
  readonly revision: number;
}

/** The report while it is being filled in. */
type Draft = { -readonly [K in keyof RepairReport]: RepairReport[K] };

/**
 * `strata datastore repair`: keep every intact record of a store directory the store refused to
 * start from. Damaged bytes are skipped up to the next valid record header; records that no longer
 * apply (a key on a lease whose grant was in the damaged bytes) are dropped too, as the lease's
 * expiry would have. Each changed file is replaced atomically (temp file, fsync, rename, fsync of
 * the directory). Run it only while the store is stopped.
 */
export function repairStore(dir: string, now = Date.now()): RepairReport {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DatastoreError("invalid", `${dir} is not a directory: pass the store's --dir`);
  // Refused while a store serves the directory (its LOCK names a live process).
  const unlock = lockStoreDir(dir, () => {});
  try {
    return repairLocked(dir, now);
  } finally {
    unlock();
  }
}

function repairLocked(dir: string, now: number): RepairReport {
  removeTempFiles(dir);
  const report: Draft = { dir, rewritten: [], dropped: [], notes: [], kept: 0, revision: 0 };
  const state = new KvState();
  const legacy = legacyLogFile(dir);
  if (existsSync(legacy) && !existsSync(snapshotFile(dir)))
    return repairLegacy(legacy, dir, state, now, report);

  let walGen = listWalGens(dir)[0] ?? 1;
  const snap = snapshotFile(dir);
  if (existsSync(snap)) walGen = repairSnapshot(snap, dir, state, now, report, walGen);

  const gens = listWalGens(dir).filter((g) => g >= walGen);
  for (const [i, g] of gens.entries()) {
    const file = walFile(dir, g);
    const { records, dropped } = salvage(file);
    const kept: FramedRecord[] = [];
    for (const rec of records) {
      const r = decodeLogRecord(rec.payload);
      const drop = (reason: string) =>
        dropped.push({ file, offset: rec.offset, length: rec.payload.length + HEADER_BYTES, reason });
      if (!r) {
        drop("a record that is not a log record");
        continue;
      }
      const m = r.mutation;
      try {
        state.replay(m, r.rev, now, r.leaseCounter);
        kept.push(rec);
      } catch (err) {
        drop(`${m.op} of ${"key" in m ? m.key : m.lease} no longer applies: ${(err as Error).message}`);
      }
    }
    if (dropped.length > 0)
      rewrite(
        dir,
        file,
        kept.map((r) => encodeRecord(r.payload)),
        dropped,
        report,
      );
    report.kept += kept.length;
    // A missing generation in between would stop the start: close the gap.
    if (g !== walGen + i) {
      renameSync(file, walFile(dir, walGen + i));
      fsyncDir(dir);
      report.notes.push(`renamed ${file} to ${walFile(dir, walGen + i)} (a log generation was missing)`);
    }
  }
  return { ...report, revision: state.revision };
}

function salvage(file: string): { records: FramedRecord[]; dropped: RepairDrop[] } {
  const { records, dropped } = salvageRecords(readFileSync(file));
  return {
    records,
    dropped: dropped.map((d) => ({
      file,
      offset: d.offset,
      length: d.length,
      reason: describeFault(d.fault),
    })),
  };
}

function rewrite(dir: string, file: string, chunks: Uint8Array[], dropped: RepairDrop[], report: Draft) {
  writeFileAtomicSync(dir, file, chunks);
  report.rewritten.push(file);
  report.dropped.push(...dropped);
}

/** Returns the first log generation after the snapshot. */
function repairSnapshot(
  file: string,
  dir: string,
  state: KvState,
  now: number,
  report: Draft,
  firstWal: number,
): number {
  const { records, dropped } = salvage(file);
  let header: Extract<SnapshotRecord, { op: "snapshot" }> | undefined;
  let end: number | undefined;
  const leases: [string, number][] = [];
  const kvs: { kv: Extract<SnapshotRecord, { op: "kv" }>["kv"]; rec: FramedRecord }[] = [];
  for (const rec of records) {
    const r = decodeSnapshotRecord(rec.payload);
    if (!r)
      dropped.push({
        file,
        offset: rec.offset,
        length: rec.payload.length + HEADER_BYTES,
        reason: "not a snapshot record",
      });
    else if (r.op === "snapshot") header ??= r;
    else if (r.op === "lease") leases.push([r.lease, r.ttl]);
    else if (r.op === "kv") kvs.push({ kv: r.kv, rec });
    else end = r.records;
  }
  const revision = header?.revision ?? kvs.reduce((max, { kv }) => Math.max(max, kv.modRevision), 0);
  const nextLease = header?.nextLease ?? 1;
  const walGen = header?.walGen ?? firstWal;
  if (!header)
    report.notes.push(
      `${file}: its header was lost; rebuilt at revision ${revision}, log generation ${walGen}`,
    );
  state.restoreSnapshot(revision, nextLease);
  for (const [lease, ttl] of leases) state.restoreLease(lease, ttl, now);
  const keptKvs = kvs
    .filter(({ kv, rec }) => {
      try {
        state.restoreKey(kv);
        return true;
      } catch (err) {
        dropped.push({
          file,
          offset: rec.offset,
          length: rec.payload.length + HEADER_BYTES,
          reason: `key ${kv.key}: ${(err as Error).message}`,
        });
        return false;
      }
    })
    .map(({ kv }) => kv);
  report.kept += leases.length + keptKvs.length;
  if (dropped.length > 0 || !header || end !== leases.length + kvs.length) {
    if (end !== leases.length + kvs.length && dropped.length === 0)
      report.notes.push(`${file}: its end record was missing or wrong; rewritten`);
    const recs: SnapshotRecord[] = [
      { op: "snapshot", revision, nextLease: Math.max(nextLease, state.nextLease), walGen },
      ...leases.map(([lease, ttl]) => ({ op: "lease", lease, ttl }) as const),
      ...keptKvs.map((kv) => ({ op: "kv", kv }) as const),
      { op: "end", records: leases.length + keptKvs.length },
    ];
    rewrite(dir, file, recs.map(encodeSnapshotRecord), dropped, report);
  }
  return walGen;
}

/** The old line log: keep every line that parses and applies; the next start converts it. */
function repairLegacy(file: string, dir: string, state: KvState, now: number, report: Draft): RepairReport {
  const lines = legacyLines(readFileSync(file));
  const kept: string[] = [];
  const dropped: RepairDrop[] = [];
  for (const { offset, line } of lines) {
    const m = decodeLegacyLine(line);
    const drop = (reason: string) =>
      dropped.push({ file, offset, length: Buffer.byteLength(line) + 1, reason });
    if (!m) {
      drop("a line that is not a log entry");
      continue;
    }
    try {
      state.apply(m, now);
      kept.push(line);
    } catch (err) {
      drop(`no longer applies: ${(err as Error).message}`);
    }
  }
  if (dropped.length > 0) {
    rewrite(dir, file, [new TextEncoder().encode(kept.map((l) => `${l}\n`).join(""))], dropped, report);
  }
  return { ...report, kept: kept.length, revision: state.revision };
}
