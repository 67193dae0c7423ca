import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { DatastoreError } from "../api.js";
import { KvState } from "./kv-state.js";
import { decodeLegacyLine, decodeLogRecord, decodeSnapshotRecord } from "./log-records.js";
import { type RecordFault, scanRecords } from "./record-codec.js";
import { captureSnapshot, writeSnapshotSync } from "./snapshot.js";
import { StoreCorruptError } from "./store-errors.js";
import {
  fsyncDir,
  legacyLogFile,
  listWalGens,
  removeTempFiles,
  snapshotFile,
  truncateDurably,
  walFile,
} from "./store-files.js";

export interface LoadedStore {
  readonly state: KvState;
  /** The log generation to append to, and its length. */
  readonly walGen: number;
  readonly walSize: number;
  /** Records and bytes in all logs since the snapshot (what compaction would fold away). */
  readonly walRecords: number;
  readonly walBytes: number;
}

export const describeFault = (f: RecordFault): string =>
  ({
    "truncated-header": "a record header cut short",
    "bad-magic": "bytes that are not a record header",
    "unsupported-version": "a record of another format version (written by another Strata version?)",
    "bad-length": "a record length over the limit",
    "truncated-payload": "a record length running past the end of the file",
    "checksum-mismatch": "a record whose checksum does not match",
  })[f];

/**
 * Read a store directory into memory: the old line log is converted once, then the snapshot is
 * loaded and the logs after it replayed. A torn tail of the newest log (a crash in the middle of
 * an append that was never acknowledged) is cut off and logged; any other damage refuses, naming
 * the file and the byte offset.
 */
export function loadStore(
  dir: string,
  now: number,
  historyLimit: number,
  log: (line: string) => void,
): LoadedStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeTempFiles(dir);
  convertLegacyLog(dir, now, log);
  const state = new KvState(historyLimit);
  const snap = snapshotFile(dir);
  let walGen = existsSync(snap) ? readSnapshot(state, snap, dir, now) : (listWalGens(dir)[0] ?? 1);
  // Logs the snapshot already holds: a crash came between writing it and removing them.
  for (const g of listWalGens(dir)) if (g < walGen) rmSync(walFile(dir, g));
  const gens = listWalGens(dir);
  gens.forEach((g, i) => {
    if (g !== walGen + i)
      throw new StoreCorruptError(walFile(dir, walGen + i), 0, "this log file is missing", dir);
  });
  if (gens.length === 0) {
    writeFileSync(walFile(dir, walGen), new Uint8Array(0), { mode: 0o600 });
    fsyncDir(dir);
    gens.push(walGen);
  }
  let walRecords = 0;
  let walBytes = 0;
  let walSize = 0;
  for (const [i, g] of gens.entries()) {
    const file = walFile(dir, g);
    const bytes = readFileSync(file);
    let count = 0;
    // Records are applied as they are read, the damage (if any) handled after the good ones.
    const scan = scanRecords(bytes, (offset, payload) => {
      const r = decodeLogRecord(payload);
      if (!r) throw new StoreCorruptError(file, offset, "a record that is not a log record", dir);
      try {
        state.replay(r.mutation, r.rev, now, r.leaseCounter);
      } catch (err) {
        throw new StoreCorruptError(
          file,
          offset,
          `a record that cannot be applied: ${(err as Error).message}`,
          dir,
        );
      }
      count++;
    });
    if (scan.damage) {
      const last = i === gens.length - 1;
      if (!last || scan.damage.resumesAt !== undefined)
        throw new StoreCorruptError(
          file,
          scan.damage.offset,
          `${describeFault(scan.damage.fault)}${scan.damage.resumesAt !== undefined ? `, with valid records after it from byte ${scan.damage.resumesAt}` : ""}`,
          dir,
        );
      truncateDurably(file, scan.goodEnd);
      log(
        `datastore: cut a torn record off the end of ${file} at byte ${scan.damage.offset} (${describeFault(scan.damage.fault)}, ${bytes.length - scan.goodEnd} bytes): a crash interrupted that append, which was never acknowledged`,
      );
    }
    walRecords += count;
    walBytes += scan.goodEnd;
    walGen = g;
    walSize = scan.goodEnd;
  }
  state.refreshAll(now);
  return { state, walGen, walSize, walRecords, walBytes };
}

/** Load a snapshot; returns the first log generation after it. */
function readSnapshot(state: KvState, file: string, dir: string, now: number): number {
  let walGen: number | undefined;
  let ended = false;
  let count = 0;
  const scan = scanRecords(readFileSync(file), (offset, payload) => {
    const bad = (why: string) => new StoreCorruptError(file, offset, why, dir);
    const r = decodeSnapshotRecord(payload);
    if (!r) throw bad("a record that is not a snapshot record");
    if (ended) throw bad("records after the snapshot's end record");
    if (walGen === undefined) {
      if (r.op !== "snapshot") throw bad("no snapshot header");
      state.restoreSnapshot(r.revision, r.nextLease);
      walGen = r.walGen;
      return;
    }
    if (r.op === "snapshot") throw bad("a second snapshot header");
    if (r.op === "end") {
      if (r.records !== count)
        throw bad(`the end record counts ${r.records} records, the snapshot holds ${count}`);
      ended = true;
      return;
    }
    count++;
    if (r.op === "lease") state.restoreLease(r.lease, r.ttl, now);
    else {
      try {
        state.restoreKey(r.kv);
      } catch (err) {
        throw bad(`a key that cannot be restored: ${(err as Error).message}`);
      }
    }
  });
  // A snapshot is written whole and renamed into place: any damage, also at its end, is real.
  if (scan.damage)
    throw new StoreCorruptError(file, scan.damage.offset, describeFault(scan.damage.fault), dir);
  if (walGen === undefined || !ended)
    throw new StoreCorruptError(
      file,
      scan.goodEnd,
      "the snapshot ends without its end record (incomplete)",
      dir,
    );
  return walGen;
}

/** Lines of the old log with their byte offsets. */
export function legacyLines(bytes: Uint8Array): { offset: number; line: string }[] {
  const out: { offset: number; line: string }[] = [];
  const text = new TextDecoder().decode(bytes);
  let offset = 0;
  for (const line of text.split("\n")) {
    if (line) out.push({ offset, line });
    offset += Buffer.byteLength(line) + 1;
  }
  return out;
}

/**
 * One-time conversion of the line log of earlier versions (`kv.log`): replayed as it always was
 * (torn last line ignored), written as a snapshot, then removed. A bad line with good lines after
 * it refuses, like damage in the new format.
 */
function convertLegacyLog(dir: string, now: number, log: (line: string) => void): void {
  const file = legacyLogFile(dir);
  if (!existsSync(file)) return;
  if (existsSync(snapshotFile(dir))) {
    // The snapshot is written only after a whole conversion: this is a crash before the removal.
    rmSync(file);
    fsyncDir(dir);
    return;
  }
  const lines = legacyLines(readFileSync(file));
  const state = new KvState();
  let torn: { offset: number } | undefined;
  for (const { offset, line } of lines) {
    const m = decodeLegacyLine(line);
    if (!m) {
      torn ??= { offset };
      continue;
    }
    if (torn)
      throw new StoreCorruptError(
        file,
        torn.offset,
        "a line that is not a log entry, with valid lines after it",
        dir,
      );
    try {
      state.apply(m, now);
    } catch (err) {
      throw new StoreCorruptError(
        file,
        offset,
        `a line that cannot be applied: ${(err as Error).message}`,
        dir,
      );
    }
  }
  if (torn)
    log(
      `datastore: ignored a torn last line of ${file} at byte ${torn.offset} (a crash in the middle of a write)`,
    );
  const stray = listWalGens(dir)[0];
  if (stray !== undefined)
    throw new DatastoreError(
      "invalid",
      `datastore directory ${dir} holds both the old line log ${file} and ${walFile(dir, stray)}, and no snapshot: an older Strata wrote here after a newer one. Keep the one you trust and move the other away`,
    );
  writeSnapshotSync(dir, captureSnapshot(state, 1));
  rmSync(file);
  fsyncDir(dir);
  log(
    `datastore: converted the line log ${file} (${lines.length} lines, revision ${state.revision}) to ${snapshotFile(dir)}`,
  );
}
