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
}
