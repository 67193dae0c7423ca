/** One reserved address: who holds it (container id + interface name, as host-local records it). */
export interface Reservation {
  readonly ip: string;
  readonly containerId: string;
  readonly ifName: string;
}

/**
 * Where reservations live. Implementations must make `reserve` atomic across processes: two
 * callers reserving one address concurrently get exactly one `true`.
 */
export interface ReservationStore {
  /** Reserve `ip` for the owner; false when someone already holds it. */
  reserve(ip: string, containerId: string, ifName: string, rangeSetIndex: number): Promise<boolean>;
  lastReserved(rangeSetIndex: number): Promise<string | undefined>;
  list(): Promise<Reservation[]>;
  /** Remove one reservation (no error when absent). */
  remove(ip: string): Promise<void>;
  /** Whether the store can take writes (STATUS). */
  writable(): Promise<boolean>;
  /**
   * Owner index: the addresses an owner holds or is about to reserve (written before each reserve,
   * so it is always a superset of what the owner holds, also after a crash). Lets ADD and DEL find
   * an owner's addresses without reading every reservation. undefined: no index for this owner.
   */
  indexedAddresses(containerId: string, ifName: string): Promise<string[] | undefined>;
  writeIndex(containerId: string, ifName: string, ips: readonly string[]): Promise<void>;
  dropIndex(containerId: string, ifName: string): Promise<void>;
  /** Owners that have an index (GC drops the indexes of owners that are gone). */
  indexedOwners(): Promise<{ containerId: string; ifName: string }[]>;
  /** Who holds `ip`, if anyone. */
  holder(ip: string): Promise<Reservation | undefined>;
}
