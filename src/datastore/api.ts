/**
 * The cluster datastore: a revisioned key-value store with compare-and-swap, leases and watches
 * (the shape of etcd v3, which every implementation follows). Values are strings (JSON by
 * convention); revisions are store-wide and increase with every change.
 */
import { StrataError } from "../common/errors.js";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the last change to this key. */
  readonly modRevision: number;
  /** Revision at which the key was created. */
  readonly createRevision: number;
  /** Lease the key is attached to (it disappears when the lease expires). */
  readonly lease?: string;
}

export type WatchEvent =
  | { readonly type: "put"; readonly kv: KeyValue; readonly revision: number }
  | { readonly type: "delete"; readonly key: string; readonly revision: number }
  /**
   * The watcher asked for history the store no longer has (compacted, or it fell behind): here is
   * the whole current state under the prefix instead; events continue after `revision`.
   */
  | { readonly type: "resync"; readonly items: readonly KeyValue[]; readonly revision: number };

export interface PutOptions {
  readonly lease?: string;
}

export interface Datastore {
  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string): Promise<{ items: KeyValue[]; revision: number }>;
  put(key: string, value: string, opts?: PutOptions): Promise<number>;
  /** Create only if absent; false when the key exists. */
  create(key: string, value: string, opts?: PutOptions): Promise<boolean>;
  /** Replace only if the key's modRevision is still `expected`; false on conflict. */
  update(key: string, value: string, expected: number, opts?: PutOptions): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** Delete only if the key's modRevision is still `expected`. */
  deleteIf(key: string, expected: number): Promise<boolean>;
  grantLease(ttlSeconds: number): Promise<string>;
  /** Renew; false when the lease already expired (its keys are gone). */
  keepAlive(lease: string): Promise<boolean>;
  revokeLease(lease: string): Promise<void>;
  /** Events under `prefix` after `fromRevision` (exclusive), until `signal` aborts. */
  watch(prefix: string, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchEvent>;
  close(): Promise<void>;
}

export class DatastoreError extends StrataError {
  constructor(
    /** insecure: a path, file or endpoint others could control or read; the message says what to fix. */
    readonly kind: "unavailable" | "protocol" | "invalid" | "insecure",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`datastore.${kind}`, message, options);
  }
}
