import ipaddr from "ipaddr.js";

/** Small CIDR helpers over ipaddr.js (IPv4 and IPv6). */
export function parseCidr(cidr: string): { addr: ipaddr.IPv4 | ipaddr.IPv6; prefix: number } {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  return { addr, prefix };
}

/** Is `ip` inside `network/prefix`? */
export function contains(network: string, ip: string): boolean {
  const [net, prefix] = ipaddr.parseCIDR(network);
  const a = ipaddr.parse(ip);
  return a.kind() === net.kind() && a.match(net, prefix);
}

/** The network address of a CIDR, e.g. 10.1.2.0 for 10.1.2.7/24. */
export function networkAddress(cidr: string): string {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  if (addr.kind() === "ipv4")
    return ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
  return ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
}

/** Two CIDRs overlap when either contains the other's network address. */
export function overlaps(a: string, b: string): boolean {
  return contains(a, networkAddress(b)) || contains(b, networkAddress(a));
}

/** Normalise "10.1.2.7/24" to "10.1.2.0/24". */
export function canonicalCidr(cidr: string): string {
  const [, prefix] = ipaddr.parseCIDR(cidr);
  return `${networkAddress(cidr)}/${prefix}`;
}
