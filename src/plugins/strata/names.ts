import { createHash } from "node:crypto";

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
