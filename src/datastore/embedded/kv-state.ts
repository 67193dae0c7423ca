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

/**
 * The embedded store's state machine: data, revisions, leases and a bounded event history.
 * No I/O and no timers: the clock is passed in, durability is the caller's (it logs mutations).
 */
export class KvState {
  revision = 0;
  readonly data = new Map<string, KeyValue>();
  readonly leases = new Map<string, Lease>();
  /** Recent events, oldest first; older ones are compacted away. */
  readonly history: WatchEvent[] = [];
  readonly #listeners = new Set<(e: WatchEvent) => void>();
  #nextLease = 1;

  constructor(private readonly historyLimit = 10_000) {}

  /** Lowest revision a watcher can resume after without a resync. */
  get compactedBefore(): number {
    return this.history.length === this.historyLimit ? (this.history[0]?.revision ?? this.revision + 1) : 0;
  }

  onEvent(listener: (e: WatchEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  newLeaseId(): string {
    while (this.leases.has(String(this.#nextLease))) this.#nextLease++;
    return String(this.#nextLease++);
  }

  /** Apply a mutation (live or replayed from the log). Returns the store revision after it. */
  apply(m: Mutation, now: number): number {
    switch (m.op) {
      case "put": {
        if (m.lease && !this.leases.has(m.lease)) throw new RangeError(`lease ${m.lease} not found`);
        const prev = this.data.get(m.key);
        if (prev?.lease && prev.lease !== m.lease) this.leases.get(prev.lease)?.keys.delete(m.key);
        this.revision++;
        const kv: KeyValue = {
          key: m.key,
          value: m.value,
          modRevision: this.revision,
          createRevision: prev?.createRevision ?? this.revision,
          ...(m.lease ? { lease: m.lease } : {}),
        };
        this.data.set(m.key, kv);
        if (m.lease) this.leases.get(m.lease)?.keys.add(m.key);
        this.#emit({ type: "put", kv, revision: this.revision });
        return this.revision;
      }
      case "delete": {
        const prev = this.data.get(m.key);
        if (!prev) return this.revision;
        if (prev.lease) this.leases.get(prev.lease)?.keys.delete(m.key);
        this.data.delete(m.key);
        this.revision++;
        this.#emit({ type: "delete", key: m.key, revision: this.revision });
        return this.revision;
      }
      case "grant":
        this.leases.set(m.lease, { ttl: m.ttl, expiresAt: now + m.ttl * 1000, keys: new Set() });
        return this.revision;
      case "revoke": {
        const lease = this.leases.get(m.lease);
        if (!lease) return this.revision;
        for (const key of [...lease.keys]) this.apply({ op: "delete", key }, now);
        this.leases.delete(m.lease);
        return this.revision;
      }
    }
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

  #emit(e: WatchEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.history.shift();
    for (const l of this.#listeners) l(e);
  }
}

export const eventKey = (e: WatchEvent): string =>
  e.type === "put" ? e.kv.key : e.type === "delete" ? e.key : "";
