import { createHash, randomBytes } from "node:crypto";

/**
 * Every MAC address Strata makes, one function per purpose. All are locally administered unicast
 * addresses (IEEE 802: bit 1 of the first octet set, bit 0 — the group bit — clear), so they
 * never collide with a vendor's and are never taken for multicast. The derived ones hash a
 * purpose-specific input, so the same input gives the same MAC on every node and after restarts.
 */

/** Six bytes as a locally administered unicast MAC, "aa:bb:cc:dd:ee:ff". */
function localUnicast(bytes: Uint8Array): string {
  const b = Uint8Array.from(bytes.subarray(0, 6));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

const derived = (input: string) => localUnicast(createHash("sha256").update(input).digest());

/** A node's VTEP MAC per VNI: stable, so an agent restart does not churn its peers' FDBs. */
export const vtepMac = (node: string, vni: number): string => derived(`strata-vtep/${node}/${vni}`);

/** A bridge's MAC, stable so its address does not follow whichever port joins first. */
export const bridgeMac = (bridge: string): string => derived(`strata-bridge/${bridge}`);

/** A fresh random MAC for a pod's or a host veth's end. */
export const randomMac = (): string => localUnicast(randomBytes(6));

/** Is `text` a non-zero unicast MAC in "aa:bb:cc:dd:ee:ff" form (e.g. a VTEP MAC from a lease)? */
export function isUnicastMac(text: string): boolean {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) return false;
  return (Number.parseInt(text.slice(0, 2), 16) & 1) === 0 && text !== "00:00:00:00:00:00";
}
