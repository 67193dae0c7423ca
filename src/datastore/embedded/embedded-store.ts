import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Datastore, KeyValue, PutOptions, WatchEvent } from "../api.js";
import { AsyncQueue } from "../async-queue.js";
import { eventKey, KvState, type Mutation } from "./kv-state.js";

export interface EmbeddedStoreOptions {
  /** Directory of the append-only log; omit for a memory-only store. */
  readonly dir?: string;
  readonly now?: () => number;
  /** How often expired leases are swept, ms. */
  readonly sweepMs?: number;
  readonly historyLimit?: number;
}

/**
 * The embedded datastore, in-process: a KvState whose every mutation is appended (synchronously,
 * before it is applied and answered) to `<dir>/kv.log`, replayed on start. One process owns it;
 * others reach it through the UNIX-socket server (server.ts).
 */
export class EmbeddedStore implements Datastore {
  readonly #state: KvState;
  readonly #log: string | undefined;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  constructor(opts: EmbeddedStoreOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#state = new KvState(opts.historyLimit);
    if (opts.dir) {
      // The log is the cluster's state: root only.
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      this.#log = join(opts.dir, "kv.log");
      if (existsSync(this.#log)) {
        for (const line of readFileSync(this.#log, "utf8").split("\n")) {
          if (!line) continue;
          try {
            this.#state.apply(JSON.parse(line) as Mutation, this.#now());
          } catch {
            break; // a torn last line from a crash: everything before it is intact
          }
        }
        this.#state.refreshAll(this.#now());
      }
    }
    this.#sweep = setInterval(() => this.sweepExpired(), opts.sweepMs ?? 200);
    this.#sweep.unref();
  }

  get state(): KvState {
    return this.#state;
  }

  #commit(m: Mutation): number {
    if (this.#log) appendFileSync(this.#log, `${JSON.stringify(m)}\n`);
    return this.#state.apply(m, this.#now());
  }

  sweepExpired(): void {
    for (const lease of this.#state.expired(this.#now())) this.#commit({ op: "revoke", lease });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.#state.data.get(key);
  }

  async list(prefix: string): Promise<{ items: KeyValue[]; revision: number }> {
    return { items: this.#state.list(prefix), revision: this.#state.revision };
  }

  async put(key: string, value: string, opts: PutOptions = {}): Promise<number> {
    return this.#commit({ op: "put", key, value, ...(opts.lease ? { lease: opts.lease } : {}) });
  }

  async create(key: string, value: string, opts: PutOptions = {}): Promise<boolean> {
    if (this.#state.data.has(key)) return false;
    await this.put(key, value, opts);
    return true;
  }

  async update(key: string, value: string, expected: number, opts: PutOptions = {}): Promise<boolean> {
    if (this.#state.data.get(key)?.modRevision !== expected) return false;
    await this.put(key, value, opts);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    if (!this.#state.data.has(key)) return false;
    this.#commit({ op: "delete", key });
    return true;
  }

  async deleteIf(key: string, expected: number): Promise<boolean> {
    if (this.#state.data.get(key)?.modRevision !== expected) return false;
    this.#commit({ op: "delete", key });
    return true;
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const lease = this.#state.newLeaseId();
    this.#commit({ op: "grant", lease, ttl: ttlSeconds });
    return lease;
  }

  async keepAlive(lease: string): Promise<boolean> {
    return this.#state.renew(lease, this.#now());
  }

  async revokeLease(lease: string): Promise<void> {
    this.#commit({ op: "revoke", lease });
  }

  watch(prefix: string, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchEvent> {
    const queue = new AsyncQueue<WatchEvent>(signal);
    const past = this.#state.eventsAfter(prefix, fromRevision);
    if (past) for (const e of past) queue.push(e);
    else queue.push({ type: "resync", items: this.#state.list(prefix), revision: this.#state.revision });
    const off = this.#state.onEvent((e) => {
      if (eventKey(e).startsWith(prefix)) queue.push(e);
    });
    signal.addEventListener("abort", off, { once: true });
    return queue;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
  }
}
