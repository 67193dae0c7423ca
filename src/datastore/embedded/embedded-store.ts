import { mkdirSync, rmSync } from "node:fs";
import { type Datastore, DatastoreError, type KeyValue, type PutOptions, type WatchEvent } from "../api.js";
import { AsyncQueue } from "../async-queue.js";
import { eventKey, KvState, type Mutation } from "./kv-state.js";
import { loadStore } from "./load-store.js";
import { encodeLogRecord } from "./log-records.js";
import { RecordTooLargeError } from "./record-codec.js";
import { captureSnapshot, concat, writeSnapshot } from "./snapshot.js";
import { fsyncDir, walFile } from "./store-files.js";
import { lockStoreDir } from "./store-lock.js";
import { WalFile } from "./wal-file.js";

export interface EmbeddedStoreOptions {
  /** Directory of the snapshot and logs; omit for a memory-only store. */
  readonly dir?: string;
  readonly now?: () => number;
  /** How often expired leases are swept, ms. */
  readonly sweepMs?: number;
  readonly historyLimit?: number;
  /**
   * Compact (snapshot the live state, start a fresh log) once the logs since the last snapshot
   * hold more than this many bytes and more than twice as many records as there are live keys
   * and leases. Default 16 MiB.
   */
  readonly compactBytes?: number;
  /** Where recovery notes go (a torn tail cut off, a log converted); default stderr. */
  readonly log?: (line: string) => void;
}

export interface EmbeddedStoreStats {
  /** Batches written to the log, each with one fdatasync (group commit). */
  readonly batches: number;
  /** Mutations written. */
  readonly records: number;
  readonly compactions: number;
  /** Bytes and records in the logs since the last snapshot. */
  readonly walBytes: number;
  readonly walRecords: number;
}

/** A write waiting for its batch: decides against the state as it is when the batch runs. */
interface PendingWrite {
  readonly decide: (s: KvState) => { readonly mutation?: Mutation; readonly result: unknown };
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The embedded datastore, in-process. One process owns it; others reach it through the
 * UNIX-socket server (server.ts).
 *
 * Durability: writes queue up and run in batches (group commit). A batch is applied to the state
 * inside a transaction, its records appended to the log and fdatasync'ed, and only then are the
 * writers answered and watchers told. Reads wait while a batch is applied but not yet durable, so
 * nobody sees a write that could still be lost. When the disk refuses the batch (ENOSPC, EIO),
 * the log is cut back to its last durable byte, the transaction rolled back, and every write of
 * the batch fails with a StoreDiskError. Layout and recovery: load-store.ts.
 */
export class EmbeddedStore implements Datastore {
  readonly #state: KvState;
  readonly #dir: string | undefined;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #sweep: NodeJS.Timeout;
  readonly #compactBytes: number;
  #wal: WalFile | undefined;
  #walGen = 1;
  #walBytes = 0;
  #walRecords = 0;
  /** Compaction waits until the logs hold this many records (raised after a failed attempt). */
  #compactFloor = 0;
  #queue: PendingWrite[] = [];
  #batching = false;
  /** Settles when the batch that is applied but not yet durable is decided. */
  #undecided: Promise<void> | undefined;
  #compaction: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];
  #closed = false;
  /** Releases the directory's LOCK (a store with a directory holds it from open to close). */
  #unlock: () => void = () => {};
  #batches = 0;
  #records = 0;
  #compactions = 0;

  constructor(opts: EmbeddedStoreOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#compactBytes = opts.compactBytes ?? 16 * 1024 * 1024;
    this.#dir = opts.dir;
    if (opts.dir) {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      this.#unlock = lockStoreDir(opts.dir, this.#log);
      let loaded: ReturnType<typeof loadStore>;
      try {
        loaded = loadStore(opts.dir, this.#now(), opts.historyLimit ?? 10_000, this.#log);
      } catch (err) {
        this.#unlock();
        throw err;
      }
      this.#state = loaded.state;
      this.#walGen = loaded.walGen;
      this.#walBytes = loaded.walBytes;
      this.#walRecords = loaded.walRecords;
      this.#wal = new WalFile(walFile(opts.dir, loaded.walGen), loaded.walSize);
    } else {
      this.#state = new KvState(opts.historyLimit);
    }
    this.#sweep = setInterval(() => void this.sweepExpired(), opts.sweepMs ?? 200);
    this.#sweep.unref();
  }

  get state(): KvState {
    return this.#state;
  }

  get stats(): EmbeddedStoreStats {
    return {
      batches: this.#batches,
      records: this.#records,
      compactions: this.#compactions,
      walBytes: this.#walBytes,
      walRecords: this.#walRecords,
    };
  }

  /** Queue a write; it resolves once durable (memory-only: at once). */
  #write<T>(decide: (s: KvState) => { mutation?: Mutation; result: T }): Promise<T> {
    if (this.#closed)
      return Promise.reject(new DatastoreError("unavailable", "the embedded store is closed"));
    if (!this.#dir) {
      try {
        const { mutation, result } = decide(this.#state);
        if (mutation) this.#state.apply(mutation, this.#now());
        return Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ decide, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#batching || this.#queue.length === 0) {
      if (!this.#batching) for (const wake of this.#drainWaiters.splice(0)) wake();
      return;
    }
    this.#batching = true;
    // A macrotask: readers woken by the previous batch read before the next one is applied.
    setImmediate(() => void this.#runBatch());
  }

  async #runBatch(): Promise<void> {
    const wal = this.#wal as WalFile;
    const batch = this.#queue;
    this.#queue = [];
    const now = this.#now();
    const records: Uint8Array[] = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    this.#state.begin();
    for (const w of batch) {
      try {
        const { mutation, result } = w.decide(this.#state);
        if (mutation) {
          // A put is encoded before it is applied (a record too large to log is never applied) and
          // logged only once applied (a put on an unknown lease is never logged).
          const encoded =
            mutation.op === "put"
              ? encodeLogRecord(mutation, this.#state.revision + 1, this.#state.nextLease)
              : undefined;
          const rev = this.#state.apply(mutation, now);
          records.push(encoded ?? encodeLogRecord(mutation, rev, this.#state.nextLease));
        }
        outcomes.push({ ok: true, value: result });
      } catch (err) {
        outcomes.push({
          ok: false,
          error:
            err instanceof RecordTooLargeError || err instanceof RangeError
              ? new DatastoreError("invalid", err.message)
              : err,
        });
      }
    }
    let failure: unknown;
    if (records.length > 0) {
      let decided = () => {};
      this.#undecided = new Promise((resolve) => {
        decided = resolve;
      });
      const bytes = concat(records);
      try {
        await wal.append(bytes);
        this.#batches++;
        this.#records += records.length;
        this.#walBytes += bytes.length;
        this.#walRecords += records.length;
      } catch (err) {
        failure = err;
      }
      this.#undecided = undefined;
      decided();
    }
    if (failure === undefined) this.#state.commit();
    else this.#state.rollback();
    batch.forEach((w, i) => {
      const o = outcomes[i];
      if (failure !== undefined) w.reject(failure);
      else if (o?.ok) w.resolve(o.value);
      else w.reject(o?.error);
    });
    if (failure === undefined) this.#maybeCompact();
    this.#batching = false;
    this.#schedule();
  }

  /** Reads wait for a batch that is applied but not yet durable (it may still be rolled back). */
  async #settled(): Promise<void> {
    while (this.#undecided) await this.#undecided;
  }

  #maybeCompact(): void {
    if (!this.#dir || this.#compaction || this.#walBytes < this.#compactBytes) return;
    const live = this.#state.data.size + this.#state.leases.size;
    if (this.#walRecords <= Math.max(2 * live, this.#compactFloor)) return;
    this.#startCompaction(this.#dir);
  }

  /** Snapshot the live state now and start a fresh log, whatever the thresholds (bench, tests). */
  async compact(): Promise<void> {
    await this.flush();
    if (!this.#dir || this.#batching || this.#queue.length > 0) return;
    this.#startCompaction(this.#dir);
    await this.#compaction;
  }

  /** Only between batches: the state is then exactly what is durable. */
  #startCompaction(dir: string): void {
    // From here on writes go to a fresh log; the snapshot holds everything before it.
    const oldGen = this.#walGen;
    const newGen = oldGen + 1;
    const next = new WalFile(walFile(dir, newGen), 0);
    fsyncDir(dir);
    this.#wal?.close();
    this.#wal = next;
    this.#walGen = newGen;
    const folded = { bytes: this.#walBytes, records: this.#walRecords };
    this.#walBytes = 0;
    this.#walRecords = 0;
    const capture = captureSnapshot(this.#state, newGen);
    this.#compaction = writeSnapshot(dir, capture)
      .then(() => {
        for (let g = oldGen; g >= 1; g--) rmSync(walFile(dir, g), { force: true });
        fsyncDir(dir);
        this.#compactions++;
        this.#compactFloor = 0;
      })
      .catch((err: unknown) => {
        // The old logs stay and still count; try again once the logs have doubled.
        this.#walBytes += folded.bytes;
        this.#walRecords += folded.records;
        this.#compactFloor = 2 * this.#walRecords;
        this.#log(`datastore: compaction failed, the logs are kept: ${(err as Error).message}`);
      })
      .finally(() => {
        this.#compaction = undefined;
      });
  }

  /** Wait until every queued write and a running compaction are done (tests, benches, close). */
  async flush(): Promise<void> {
    while (this.#batching || this.#queue.length > 0) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    await this.#compaction;
  }

  async sweepExpired(): Promise<void> {
    const expired = this.#state.expired(this.#now());
    await Promise.all(
      expired.map((lease) =>
        this.#write((s) => ({
          mutation: s.leases.has(lease) ? ({ op: "revoke", lease } as const) : undefined,
          result: undefined,
        })).catch(() => {
          // the disk refused: the next sweep tries again
        }),
      ),
    );
  }

  async get(key: string): Promise<KeyValue | undefined> {
    await this.#settled();
    return this.#state.data.get(key);
  }

  async list(prefix: string): Promise<{ items: KeyValue[]; revision: number }> {
    await this.#settled();
    return { items: this.#state.list(prefix), revision: this.#state.revision };
  }

  put(key: string, value: string, opts: PutOptions = {}): Promise<number> {
    const mutation: Mutation = { op: "put", key, value, ...(opts.lease ? { lease: opts.lease } : {}) };
    return this.#write((s) => ({ mutation, result: s.revision + 1 }));
  }

  create(key: string, value: string, opts: PutOptions = {}): Promise<boolean> {
    return this.#write((s) =>
      s.data.has(key)
        ? { result: false }
        : { mutation: { op: "put", key, value, ...(opts.lease ? { lease: opts.lease } : {}) }, result: true },
    );
  }

  update(key: string, value: string, expected: number, opts: PutOptions = {}): Promise<boolean> {
    return this.#write((s) =>
      s.data.get(key)?.modRevision !== expected
        ? { result: false }
        : { mutation: { op: "put", key, value, ...(opts.lease ? { lease: opts.lease } : {}) }, result: true },
    );
  }

  delete(key: string): Promise<boolean> {
    return this.#write((s) =>
      s.data.has(key) ? { mutation: { op: "delete", key }, result: true } : { result: false },
    );
  }

  deleteIf(key: string, expected: number): Promise<boolean> {
    return this.#write((s) =>
      s.data.get(key)?.modRevision === expected
        ? { mutation: { op: "delete", key }, result: true }
        : { result: false },
    );
  }

  grantLease(ttlSeconds: number): Promise<string> {
    if (!(Number.isFinite(ttlSeconds) && ttlSeconds > 0))
      return Promise.reject(
        new DatastoreError("invalid", `lease TTL must be a positive number of seconds, not ${ttlSeconds}`),
      );
    return this.#write((s) => {
      const lease = s.newLeaseId();
      return { mutation: { op: "grant", lease, ttl: ttlSeconds }, result: lease };
    });
  }

  async keepAlive(lease: string): Promise<boolean> {
    await this.#settled();
    return this.#state.renew(lease, this.#now());
  }

  async revokeLease(lease: string): Promise<void> {
    await this.#write((s) => ({
      mutation: s.leases.has(lease) ? { op: "revoke", lease } : undefined,
      result: undefined,
    }));
  }

  watch(prefix: string, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchEvent> {
    const queue = new AsyncQueue<WatchEvent>(signal);
    // Started once no undecided batch is applied, so history and live events meet exactly.
    void this.#settled().then(() => {
      if (signal.aborted) return;
      const past = this.#state.eventsAfter(prefix, fromRevision);
      if (past) for (const e of past) queue.push(e);
      else queue.push({ type: "resync", items: this.#state.list(prefix), revision: this.#state.revision });
      const off = this.#state.onEvent((e) => {
        if (eventKey(e).startsWith(prefix)) queue.push(e);
      });
      signal.addEventListener("abort", off, { once: true });
    });
    return queue;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await this.flush();
    if (this.#dir) this.#closed = true;
    this.#wal?.close();
    this.#wal = undefined;
    this.#unlock();
  }
}
