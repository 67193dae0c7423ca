import { contains, parseAddress } from "../../common/cidr.js";

/** One address of an interface, as node:os networkInterfaces() lists it. */
export interface InterfaceAddress {
  readonly address: string;
  /** e.g. 192.168.1.2/24, fe80::1/64 (null when the kernel gave no mask). */
  readonly cidr: string | null;
  readonly family: string | number;
  readonly internal: boolean;
}

/** The link a session runs over: the device, and our link-local address on it when the peer shares it. */
export interface SessionLink {
  readonly dev: string;
  /** Our fe80:: address on `dev`, set only when the peer is on the same link (RFC 2545 §3). */
  readonly linkLocal?: string;
  /**
   * Our global IPv6 address on `dev`: the IPv6 next hop of next-hop-self routes over an IPv4
   * session when no IPv6 next hop is configured (as FRR and BIRD take the interface's address),
   * so a router on two segments gives each its own.
   */
  readonly global6?: string;
}

const bare = (a: string) => a.replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.)/, "");
const zoneOf = (a: string) => (a.includes("%") ? a.slice(a.indexOf("%") + 1) : undefined);
// Parses from the address cache (common/cidr.ts): a mesh agent asks this at every session change.
const isLinkLocal = (a: string) => parseAddress(a)?.range() === "linkLocal";
const isGlobal6 = (a: string) => {
  const p = parseAddress(a);
  return p?.kind() === "ipv6" && ["unicast", "uniqueLocal", "reserved"].includes(p.range());
};
const same = (a: string, b: string) => {
  const x = parseAddress(a);
  const y = parseAddress(b);
  return x !== undefined && y !== undefined && x.toString() === y.toString();
};

function inside(cidr: string | null, address: string): boolean {
  if (!cidr || !parseAddress(address)) return false;
  try {
    return contains(cidr, address);
  } catch {
    return false;
  }
}

/**
 * Pure: the device a session to `peer` from `local` runs over, from the host's interfaces; with
 * our link-local address when the peer is on that link — its address in the subnet of the
 * session's own address, or a link-local peer (`fe80::1%eth0`). RFC 2545 §3 puts that address
 * beside the global next hop of IPv6 routes, and a link-local next hop learned on the session is
 * reachable only out of this device. undefined: the local address is on no interface we see.
 */
export function sessionLink(
  local: string | undefined,
  peer: string,
  interfaces: Readonly<Record<string, readonly InterfaceAddress[] | undefined>>,
): SessionLink | undefined {
  const zone = zoneOf(peer);
  const linkLocalOn = (dev: string) =>
    interfaces[dev]?.find((a) => !a.internal && isLinkLocal(bare(a.address)))?.address.replace(/%.*$/, "");
  const global6On = (dev: string) =>
    interfaces[dev]?.find((a) => !a.internal && isGlobal6(bare(a.address)))?.address;
  if (zone !== undefined) {
    if (!interfaces[zone]) return undefined;
    const ll = linkLocalOn(zone);
    const g6 = global6On(zone);
    return { dev: zone, ...(ll ? { linkLocal: ll } : {}), ...(g6 ? { global6: g6 } : {}) };
  }
  if (local === undefined) return undefined;
  for (const [dev, addrs] of Object.entries(interfaces)) {
    const mine = addrs?.find((a) => !a.internal && same(bare(a.address), bare(local)));
    if (!mine) continue;
    const shared = inside(mine.cidr, bare(peer));
    const ll = shared ? linkLocalOn(dev) : undefined;
    const g6 = global6On(dev);
    return { dev, ...(ll ? { linkLocal: ll } : {}), ...(g6 ? { global6: g6 } : {}) };
  }
  return undefined;
}
