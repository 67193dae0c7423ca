import ipaddr from "ipaddr.js";
import { isIpv6OnlyLease, type NodeLease } from "../../cluster/node-lease.js";
import { numberToIpv4 } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";

/** A node whose lease gives no usable BGP identifier (only the all-zero IPv6-only case). */
export class RouterIdError extends StrataError {
  constructor(message: string) {
    super("bgp.router-id", message);
  }
}

/**
 * Pure: the node's BGP identifier (RFC 4271 §4.2: four octets; RFC 6286: any non-zero value
 * unique within the AS), written as an IPv4 address.
 *
 * - IPv4 and dual-stack clusters: the node's IPv4 underlay address, as before.
 * - IPv6-only clusters (no IPv4 address to borrow): the last 32 bits of the node's IPv6 pod
 *   subnet's routing prefix, i.e. address bits len−32 … len−1 of its /len. fd00:10:244:1::/64 →
 *   0244:0001 → 2.68.0.1. Two nodes never share one: their valid leases are distinct /len subnets
 *   of one cluster CIDR at most 16 bits shorter (`--subnet-len6`, checkSubnetLen6), so they differ
 *   inside those 32 bits. It stays the same across restarts (the node keeps its subnet), and
 *   needs no configuration. A speaker refuses a peer that presents its own identifier
 *   (RFC 4271 §6.2, Bad BGP Identifier), so an external router that happens to use it is named.
 */
export function nodeRouterId(lease: Pick<NodeLease, "subnet" | "publicIp">): string {
  if (!isIpv6OnlyLease(lease)) return lease.publicIp;
  const [addr, len] = ipaddr.IPv6.parseCIDR(lease.subnet);
  let value = 0n;
  for (const b of addr.toByteArray()) value = (value << 8n) | BigInt(b);
  const id = Number((value >> BigInt(128 - len)) & 0xffffffffn);
  if (id === 0)
    throw new RouterIdError(
      `IPv6 pod subnet ${lease.subnet} gives BGP identifier 0.0.0.0 (its last 32 prefix bits are zero), which RFC 6286 forbids; use a cluster CIDR whose subnets have non-zero bits there, or skip this subnet`,
    );
  return numberToIpv4(id);
}
