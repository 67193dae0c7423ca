import type { Owner } from "./reservation.js";

/** One reservation file: the address, who holds it and the raw record (host-local's format). */
export interface Reservation extends Owner {
  readonly ip: string;
  /** The file's content; empty or cut short when a writer crashed (see reservation.ts). */
  readonly record: string;
  /** When the reservation was last written (ms since the epoch); GC gives young partial files time. */
  readonly modifiedMs: number;
}

/**
 * Where reservations live. Implementations must make `reserve` atomic across processes: two
 * callers reserving one address concurrently get exactly one `true`.
 */
export interface ReservationStore {
  /** Reserve `ip` for the owner; false when someone already holds it. */
  reserve(ip: string, owner: Owner, rangeSetIndex: number): Promise<boolean>;
  lastReserved(rangeSetIndex: number): Promise<string | undefined>;
  list(): Promise<Reservation[]>;
  /** Who holds `ip`, if anyone. */
  holder(ip: string): Promise<Reservation | undefined>;
  /** Remove one reservation (no error when absent). */
  remove(ip: string): Promise<void>;
  /** Whether the store can take writes (STATUS). */
  writable(): Promise<boolean>;
  /**
   * Owner index: the addresses an owner holds or is about to reserve (written before each reserve,
   * so it is always a superset of what the owner holds, also after a crash). Lets ADD and DEL find
   * an owner's addresses without reading every reservation. undefined: no index for this owner.
   */
  indexedAddresses(owner: Owner): Promise<string[] | undefined>;
  writeIndex(owner: Owner, ips: readonly string[]): Promise<void>;
  dropIndex(owner: Owner): Promise<void>;
  /** Owners that have an index (GC drops the indexes of owners that are gone). */
  indexedOwners(): Promise<Owner[]>;
  /** Remove half-done writes started before `beforeMs`: what crashed writers left behind. */
  sweepAbandonedWrites(beforeMs: number): Promise<void>;
}
