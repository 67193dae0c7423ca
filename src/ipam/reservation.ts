/** Who an attachment is: the runtime's container id plus the interface name inside it. */
export interface Owner {
  readonly containerId: string;
  readonly ifName: string;
}

/** host-local's separator between container id and ifname inside a reservation file. */
export const recordLineBreak = "\r\n";

/** The content of a reservation file, byte for byte as host-local writes it. */
export const reservationRecord = (o: Owner) => `${o.containerId.trim()}${recordLineBreak}${o.ifName}`;

/**
 * How a reservation file's content relates to an owner:
 * - "owner": the full record of this owner;
 * - "legacy-owner": only the container id (host-local before ifnames were recorded); host-local
 *   releases such files by container id alone, so do we;
 * - "partial": empty, or a proper prefix of the container id — what a writer that created the file
 *   and crashed before finishing leaves; it names no owner for sure;
 * - "other": someone else's.
 */
export type Ownership = "owner" | "legacy-owner" | "partial" | "other";

export function ownershipOf(record: string, owner: Owner): Ownership {
  const text = record.trim();
  if (text === "") return "partial";
  if (text.includes(recordLineBreak)) return text === reservationRecord(owner) ? "owner" : "other";
  if (text === owner.containerId.trim()) return "legacy-owner";
  return owner.containerId.startsWith(text) ? "partial" : "other";
}

/** Whether a record is complete (container id and ifname both written). */
export const isCompleteRecord = (record: string) => {
  const text = record.trim();
  const cut = text.indexOf(recordLineBreak);
  return cut > 0 && cut + recordLineBreak.length < text.length;
};

/** Split a record into its owner; an incomplete record gives what is there. */
export function parseRecord(record: string): Owner {
  const text = record.trim();
  const cut = text.indexOf(recordLineBreak);
  if (cut < 0) return { containerId: text, ifName: "" };
  return { containerId: text.slice(0, cut).trim(), ifName: text.slice(cut + recordLineBreak.length).trim() };
}
