import { cidrHost, contains, parseAddress } from "../../common/cidr.js";
import type { Route } from "../../kernel/api.js";

/** An address with its prefix length on a device: the network it makes directly reachable. */
export interface ConnectedNetwork {
  readonly dev: string;
  /** e.g. 192.168.10.1/24 */
  readonly cidr: string;
}

export type BgpKernelRoute = { readonly route: Route } | { readonly reason: string };

/**
 * Pure: the kernel route for a BGP route, the one rule for every writer of BGP routes (the
 * agent's bgp backend and `strata bgp-speaker --install-routes`): the prefix via its NEXT_HOP,
 * out of the device whose connected network holds the next hop. There is no recursive lookup:
 * a next hop on no connected network is not resolvable (RFC 4271 §9.1.2.1) and gets no route
 * (the kernel would refuse it, or send the traffic somewhere the peer did not mean), nor does a
 * next hop that is one of this host's own addresses.
 */
export function bgpKernelRoute(
  prefix: string,
  nextHop: string,
  connected: readonly ConnectedNetwork[],
  /** The session's device, for a link-local next hop (on every link's fe80::/64: it alone says which). */
  linkLocalDev?: string,
): BgpKernelRoute {
  // Family from the text, CIDRs from the parse cache: a mesh agent asks this for every peer's
  // prefix on every lease change (ipaddr.isValid/parse try IPv6 first and throw for IPv4 text).
  const hop = parseAddress(nextHop);
  if (!hop) return { reason: `next hop ${nextHop} is not an IP address` };
  const own = hop.toString();
  if (connected.some((c) => cidrHost(c.cidr) === own))
    return { reason: `next hop ${nextHop} is this host's own address` };
  const linkLocal = hop.range() === "linkLocal";
  const on = connected.filter(
    (c) => contains(c.cidr, nextHop) && (!linkLocal || linkLocalDev === undefined || c.dev === linkLocalDev),
  );
  const first = on[0];
  if (!first) {
    const nets = connected.map((c) => `${c.cidr} on ${c.dev}`).join(", ") || "none";
    return { reason: `next hop ${nextHop} is on no connected network (${nets})` };
  }
  // Every link has fe80::/64: a link-local next hop names no device unless only one is in view.
  const devs = new Set(on.map((c) => c.dev));
  if (devs.size > 1 && linkLocal)
    return {
      reason: `link-local next hop ${nextHop} could be on any of ${[...devs].join(", ")}: name the device (--route-dev)`,
    };
  // An IPv4 prefix may go via an IPv6 next hop (RFC 8950; the kernel's "via inet6").
  return { route: { dst: prefix, via: nextHop, dev: first.dev } };
}
