import { type Owner, parseRecord, reservationRecord } from "../../src/ipam/reservation.js";
import type { Reservation, ReservationStore } from "../../src/ipam/store.js";

const ownerKey = (o: Owner) => `${o.containerId}\n${o.ifName}`;

/**
 * The store's contract in memory, for unit tests of the IPAM operations. `plant` puts a raw file
 * in place, as host-local or a crashed writer would have left it.
 */
export class MemoryReservationStore implements ReservationStore {
  readonly files = new Map<string, { record: string; modifiedMs: number }>();
  readonly last = new Map<number, string>();
  readonly index = new Map<string, { owner: Owner; ips: string[] }>();
  isWritable = true;
  constructor(private readonly now: () => number = Date.now) {}

  plant(ip: string, record: string, modifiedMs = this.now()): void {
    this.files.set(ip, { record, modifiedMs });
  }

  async reserve(ip: string, owner: Owner, rangeSetIndex: number): Promise<boolean> {
    if (this.files.has(ip)) return false;
    this.files.set(ip, { record: reservationRecord(owner), modifiedMs: this.now() });
    this.last.set(rangeSetIndex, ip);
    return true;
  }
  async lastReserved(rangeSetIndex: number): Promise<string | undefined> {
    return this.last.get(rangeSetIndex);
  }
  async list(): Promise<Reservation[]> {
    return [...this.files.keys()].map((ip) => this.#reservation(ip) as Reservation);
  }
  async holder(ip: string): Promise<Reservation | undefined> {
    return this.#reservation(ip);
  }
  async remove(ip: string): Promise<void> {
    this.files.delete(ip);
  }
  async writable(): Promise<boolean> {
    return this.isWritable;
  }
  async indexedAddresses(owner: Owner): Promise<string[] | undefined> {
    return this.index.get(ownerKey(owner))?.ips;
  }
  async writeIndex(owner: Owner, ips: readonly string[]): Promise<void> {
    this.index.set(ownerKey(owner), { owner, ips: [...ips] });
  }
  async dropIndex(owner: Owner): Promise<void> {
    this.index.delete(ownerKey(owner));
  }
  async indexedOwners(): Promise<Owner[]> {
    return [...this.index.values()].map((e) => e.owner);
  }
  async sweepAbandonedWrites(): Promise<void> {
    // Writes in memory never stop half-way.
  }

  #reservation(ip: string): Reservation | undefined {
    const f = this.files.get(ip);
    return f && { ip, ...parseRecord(f.record), record: f.record, modifiedMs: f.modifiedMs };
  }
}
