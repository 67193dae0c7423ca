import type { KeyValue, WatchEvent } from "../api.js";

/** One durable change, as written to the log. */
export type Mutation =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "grant"; readonly lease: string; readonly ttl: number }
  | { readonly op: "revoke"; readonly lease: string };

interface Lease {
  readonly ttl: number;
  expiresAt: number;
  readonly keys: Set<string>;
}

/** What a transaction changed, to put back on rollback: the first value seen of each thing. */
interface Undo {
  readonly revision: number;
  readonly nextLease: number;
  readonly data: Map<string, KeyValue | undefined>;
  readonly leases: Map<string, Lease | undefined>;
  readonly events: WatchEvent[];
}

/**
 * The embedded store's state machine: data, revisions, leases and a bounded event history.
 * No I/O and no timers: the clock is passed in, durability is the caller's (it logs mutations).
 *
 * Between begin() and commit() changes are visible in `data` but their watch events are held
 * back, and rollback() undoes them: the store applies a batch, makes it durable, and only then
 * lets anyone see it (or rolls it back when the disk refused it).
 */
export class KvState {
  revision = 0;
  readonly data = new Map<string, KeyValue>();
  readonly leases = new Map<string, Lease>();
  /** Recent events, oldest first; older ones are compacted away (at least historyLimit kept). */
  readonly history: WatchEvent[] = [];
  readonly #listeners = new Set<(e: WatchEvent) => void>();
  #nextLease = 1;
  /** Revision of the snapshot the state was loaded from: no history at or before it. */
  #snapshotRevision = 0;
  #undo: Undo | undefined;
  #historyTrimmed = false;

  constructor(private readonly historyLimit = 10_000) {}

  /** Lowest revision a watcher can resume after without a resync. */
  get compactedBefore(): number {
    const byLimit = this.#historyTrimmed ? (this.history[0]?.revision ?? this.revision + 1) : 0;
    return Math.max(byLimit, this.#snapshotRevision > 0 ? this.#snapshotRevision + 1 : 0);
  }

  /** Lease ids are never reused, also across restarts (the counter is in snapshots). */
  get nextLease(): number {
    return this.#nextLease;
  }

  onEvent(listener: (e: WatchEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  newLeaseId(): string {
    this.#remember();
    while (this.leases.has(String(this.#nextLease))) this.#nextLease++;
    return String(this.#nextLease++);
  }

  begin(): void {
    if (this.#undo) throw new Error("KvState: a transaction is already open");
    this.#undo = {
      revision: this.revision,
      nextLease: this.#nextLease,
      data: new Map(),
      leases: new Map(),
      events: [],
    };
  }

  /** Make the transaction's changes final and tell watchers. */
  commit(): void {
    const undo = this.#undo;
    this.#undo = undefined;
    for (const e of undo?.events ?? []) this.#emit(e);
  }

  /** Undo every change since begin(); watchers never hear of them. */
  rollback(): void {
    const undo = this.#undo;
    this.#undo = undefined;
    if (!undo) return;
    this.revision = undo.revision;
    this.#nextLease = undo.nextLease;
    for (const [key, kv] of undo.data) {
      if (kv) this.data.set(key, kv);
      else this.data.delete(key);
    }
    for (const [id, lease] of undo.leases) {
      if (lease) this.leases.set(id, lease);
      else this.leases.delete(id);
    }
  }

  #remember(key?: string, lease?: string): void {
    const undo = this.#undo;
    if (!undo) return;
    if (key !== undefined && !undo.data.has(key)) undo.data.set(key, this.data.get(key));
    if (lease !== undefined && !undo.leases.has(lease)) {
      const l = this.leases.get(lease);
      undo.leases.set(lease, l && { ttl: l.ttl, expiresAt: l.expiresAt, keys: new Set(l.keys) });
    }
  }

  /** Apply a mutation (live or replayed from the log). Returns the store revision after it. */
  apply(m: Mutation, now: number): number {
    switch (m.op) {
      case "put": {
        if (m.lease && !this.leases.has(m.lease)) throw new RangeError(`lease ${m.lease} not found`);
        const prev = this.data.get(m.key);
        this.#remember(m.key, prev?.lease);
        if (m.lease) this.#remember(undefined, m.lease);
        if (prev?.lease && prev.lease !== m.lease) this.leases.get(prev.lease)?.keys.delete(m.key);
        this.revision++;
        const createRevision = prev?.createRevision ?? this.revision;
        // Two fixed shapes, no spread: replaying a million puts spends its time here.
        const kv: KeyValue = m.lease
          ? { key: m.key, value: m.value, modRevision: this.revision, createRevision, lease: m.lease }
          : { key: m.key, value: m.value, modRevision: this.revision, createRevision };
        this.data.set(m.key, kv);
        if (m.lease) this.leases.get(m.lease)?.keys.add(m.key);
        this.#emitOrHold({ type: "put", kv, revision: this.revision });
        return this.revision;
      }
      case "delete": {
        const prev = this.data.get(m.key);
        if (!prev) return this.revision;
        this.#remember(m.key, prev.lease);
        if (prev.lease) this.leases.get(prev.lease)?.keys.delete(m.key);
        this.data.delete(m.key);
        this.revision++;
        this.#emitOrHold({ type: "delete", key: m.key, revision: this.revision });
        return this.revision;
      }
      case "grant":
        this.#remember(undefined, m.lease);
        this.leases.set(m.lease, { ttl: m.ttl, expiresAt: now + m.ttl * 1000, keys: new Set() });
        this.#reserveLeaseId(m.lease);
        return this.revision;
      case "revoke": {
        const lease = this.leases.get(m.lease);
        if (!lease) return this.revision;
        this.#remember(undefined, m.lease);
        for (const key of [...lease.keys]) this.apply({ op: "delete", key }, now);
        this.leases.delete(m.lease);
        return this.revision;
      }
    }
  }

  /**
   * Apply a mutation read back from the log, where it is stored with the revision it produced.
   * After `strata datastore repair` dropped damaged records, revisions have gaps: the replay jumps
   * over them, so every surviving key keeps the revisions clients saw, and the store's revision
   * never goes backwards.
   */
  replay(m: Mutation, rev: number, now: number, leaseCounter?: number): number {
    if (leaseCounter !== undefined && leaseCounter > this.#nextLease) this.#nextLease = leaseCounter;
    if ((m.op === "put" || (m.op === "delete" && this.data.has(m.key))) && rev > this.revision + 1)
      this.revision = rev - 1;
    this.apply(m, now);
    if (rev > this.revision) this.revision = rev;
    return this.revision;
  }

  /** Start from a snapshot: its revision and lease counter; keys and leases follow. */
  restoreSnapshot(revision: number, nextLease: number): void {
    this.revision = revision;
    this.#snapshotRevision = revision;
    this.#nextLease = Math.max(this.#nextLease, nextLease);
  }

  restoreLease(id: string, ttl: number, now: number): void {
    this.leases.set(id, { ttl, expiresAt: now + ttl * 1000, keys: new Set() });
    this.#reserveLeaseId(id);
  }

  /** A key from a snapshot, with its revisions; its lease must have been restored first. */
  restoreKey(kv: KeyValue): void {
    if (kv.lease && !this.leases.has(kv.lease)) throw new RangeError(`lease ${kv.lease} not found`);
    this.data.set(kv.key, kv);
    if (kv.lease) this.leases.get(kv.lease)?.keys.add(kv.key);
  }

  #reserveLeaseId(id: string): void {
    const n = Number(id);
    if (Number.isSafeInteger(n) && n >= this.#nextLease) this.#nextLease = n + 1;
  }

  /** Leases past their expiry (the caller revokes them through the log). */
  expired(now: number): string[] {
    return [...this.leases.entries()].filter(([, l]) => l.expiresAt <= now).map(([id]) => id);
  }

  renew(lease: string, now: number): boolean {
    const l = this.leases.get(lease);
    if (!l) return false;
    l.expiresAt = now + l.ttl * 1000;
    return true;
  }

  /** After a restart every lease gets its full TTL again (as etcd does on a leader change). */
  refreshAll(now: number): void {
    for (const l of this.leases.values()) l.expiresAt = now + l.ttl * 1000;
  }

  list(prefix: string): KeyValue[] {
    return [...this.data.values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** History after `fromRevision` under `prefix`, or undefined when it has been compacted. */
  eventsAfter(prefix: string, fromRevision: number): WatchEvent[] | undefined {
    if (fromRevision + 1 < this.compactedBefore) return undefined;
    return this.history.filter((e) => e.revision > fromRevision && eventKey(e).startsWith(prefix));
  }

  #emitOrHold(e: WatchEvent): void {
    if (this.#undo) this.#undo.events.push(e);
    else this.#emit(e);
  }

  #emit(e: WatchEvent): void {
    this.history.push(e);
    // Trimmed in steps (between historyLimit and twice that many kept), not one shift() per event:
    // shifting a 10,000-event array a million times made replaying a large log quadratic.
    if (this.history.length >= 2 * this.historyLimit) {
      this.history.splice(0, this.history.length - this.historyLimit);
      this.#historyTrimmed = true;
    }
    for (const l of this.#listeners) l(e);
  }
}

export const eventKey = (e: WatchEvent): string =>
  e.type === "put" ? e.kv.key : e.type === "delete" ? e.key : "";
