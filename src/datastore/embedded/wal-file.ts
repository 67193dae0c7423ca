import { closeSync, fdatasync, ftruncate, openSync, write } from "node:fs";
import { promisify } from "node:util";
import { errnoOf, StoreDiskError } from "./store-errors.js";

const writeAsync = promisify(write);
const datasync = promisify(fdatasync);
const truncate = promisify(ftruncate);

/**
 * One log file, appended to in batches: `append` returns once the bytes are on disk (fdatasync).
 * When a write or sync fails (ENOSPC, EIO), the file is cut back to the end of the last durable
 * batch and synced, so no partial record stays for later records to land behind; until that cut
 * succeeds every append fails without writing.
 */
export class WalFile {
  readonly path: string;
  readonly #fd: number;
  #size: number;
  #broken: unknown;
  /** fdatasync calls that succeeded (for the group-commit bench and tests). */
  syncs = 0;

  /** Open `path` for appending; `size` is its length after recovery (what is known good). */
  constructor(path: string, size: number) {
    this.path = path;
    this.#fd = openSync(path, "a", 0o600);
    this.#size = size;
  }

  /** Bytes durably in the file. */
  get size(): number {
    return this.#size;
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.#broken !== undefined) {
      try {
        await this.#cutBack();
      } catch (err) {
        throw new StoreDiskError(this.path, errnoOf(err), err);
      }
    }
    try {
      let done = 0;
      while (done < bytes.length)
        done += (await writeAsync(this.#fd, bytes, done, bytes.length - done)).bytesWritten;
      await datasync(this.#fd);
      this.syncs++;
      this.#size += bytes.length;
    } catch (err) {
      this.#broken = err;
      try {
        await this.#cutBack();
      } catch {
        // still broken: the next append tries again before writing anything
      }
      throw new StoreDiskError(this.path, errnoOf(err), err);
    }
  }

  async #cutBack(): Promise<void> {
    await truncate(this.#fd, this.#size);
    await datasync(this.#fd);
    this.#broken = undefined;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
