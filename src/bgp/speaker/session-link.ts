import ipaddr from "ipaddr.js";

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
}

const bare = (a: string) => a.replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.)/, "");
const zoneOf = (a: string) => (a.includes("%") ? a.slice(a.indexOf("%") + 1) : undefined);
const isLinkLocal = (a: string) => ipaddr.isValid(a) && ipaddr.parse(a).range() === "linkLocal";
const same = (a: string, b: string) =>
  ipaddr.isValid(a) && ipaddr.isValid(b) && ipaddr.parse(a).toString() === ipaddr.parse(b).toString();

function inside(cidr: string | null, address: string): boolean {
  if (!cidr || !ipaddr.isValid(address)) return false;
  try {
    const [net, len] = ipaddr.parseCIDR(cidr);
    const a = ipaddr.parse(address);
    return a.kind() === net.kind() && a.match(net, len);
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
  if (zone !== undefined) {
    if (!interfaces[zone]) return undefined;
    const ll = linkLocalOn(zone);
    return { dev: zone, ...(ll ? { linkLocal: ll } : {}) };
  }
  if (local === undefined) return undefined;
  for (const [dev, addrs] of Object.entries(interfaces)) {
    const mine = addrs?.find((a) => !a.internal && same(bare(a.address), bare(local)));
    if (!mine) continue;
    const shared = inside(mine.cidr, bare(peer));
    const ll = shared ? linkLocalOn(dev) : undefined;
    return { dev, ...(ll ? { linkLocal: ll } : {}) };
  }
  return undefined;
}
