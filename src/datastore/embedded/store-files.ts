import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

/**
 * The files of an embedded store's directory:
 *   snapshot.kv       the live state at some revision (optional)
 *   wal-<gen>.kv      logs of the mutations after it, replayed in generation order
 *   kv.log            the line-based log of earlier Strata versions (converted once at start)
 *   *.tmp             a file being written atomically (removed at start if a crash left it)
 */
export const snapshotFile = (dir: string) => join(dir, "snapshot.kv");
export const walFile = (dir: string, gen: number) => join(dir, `wal-${String(gen).padStart(10, "0")}.kv`);
export const legacyLogFile = (dir: string) => join(dir, "kv.log");

const walName = /^wal-(\d{10})\.kv$/;

/** Log generations present in `dir`, ascending. */
export function listWalGens(dir: string): number[] {
  return readdirSync(dir)
    .map((f) => walName.exec(f)?.[1])
    .filter((g): g is string => g !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function removeTempFiles(dir: string): void {
  for (const f of readdirSync(dir)) if (f.endsWith(".tmp")) rmSync(join(dir, f), { force: true });
}

/** A rename or a new file is durable only once its directory is synced. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace `path` with `chunks` all or nothing: write a temp file, fsync it, rename it over
 * `path`, fsync the directory. A crash leaves either the old file or the new one (and a .tmp
 * that the next start removes).
 */
export async function writeFileAtomic(
  dir: string,
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    for await (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  await fh.close();
  renameSync(tmp, path);
  fsyncDir(dir);
}

/** writeFileAtomic for start-up and repair, where nothing else runs meanwhile. */
export function writeFileAtomicSync(dir: string, path: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

/** Cut a file back to `length` and make that durable. */
export function truncateDurably(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
