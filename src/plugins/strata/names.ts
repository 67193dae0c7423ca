import { createHash, randomBytes } from "node:crypto";

/**
 * Host-side veth name: prefix + hash of (container id, ifname), 15 characters (IFNAMSIZ - 1).
 * Deterministic so DEL finds the link without prevResult, even after a crash in the middle of ADD.
 */
export function hostVethName(prefix: string, containerId: string, ifName: string): string {
  const digest = createHash("sha256").update(`${containerId}/${ifName}`).digest("hex");
  return prefix + digest.slice(0, 15 - prefix.length);
}

/** Calico's fixed host-side MAC: pods only ever talk to it, so one value serves every veth. */
export const routedHostMac = "ee:ee:ee:ee:ee:ee";

/** The link-local gateway pods use in routed mode, answered by proxy ARP on the host veth. */
export const routedGatewayV4 = "169.254.1.1";

/** IPv6 link-local address derived (EUI-64) from routedHostMac. */
export const routedGatewayV6 = "fe80::ecee:eeff:feee:eeee";

/** A random locally administered unicast MAC. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** A stable MAC for a bridge so its address does not follow whichever port joins first. */
export function bridgeMac(bridge: string): string {
  const b = createHash("sha256").update(`strata-bridge/${bridge}`).digest().subarray(0, 6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}
