import type { CniIpConfig, CniResult, CniRoute } from "../../cni/result.js";
import type { KernelOp } from "../../kernel/api.js";

/**
 * Pod interface addressing from an IPAM result, as plain kernel ops: what every main plugin
 * (veth, macvlan, ipvlan, ...) does once its link is in the pod's namespace. Pure, so a plugin's
 * planner is unit-tested without root and applies the ops with one `kernel.apply(podNetns, ops)`.
 */

const isV6 = (cidr: string) => cidr.includes(":");
const defaultDst = (v6: boolean) => (v6 ? "::/0" : "0.0.0.0/0");

/** The address of each family's gateway among the IPAM addresses (the first one that has one). */
export function familyGateway(ips: readonly CniIpConfig[], v6: boolean): string | undefined {
  return ips.find((ip) => isV6(ip.address) === v6 && ip.gateway)?.gateway;
}

/**
 * The routes a pod gets from IPAM: with `defaultGateway`, a default route per address that has a
 * gateway (the reference plugins' isDefaultGateway); then IPAM's own routes, skipping a
 * destination already routed, a route without `gw` going via its family's gateway (CNI 1.1.0
 * §"Routes": "gw ... if omitted, a default gateway is assumed").
 */
export function podRoutes(
  ips: readonly CniIpConfig[],
  ipamRoutes: readonly CniRoute[],
  opts: { readonly defaultGateway: boolean },
): CniRoute[] {
  const routes: CniRoute[] = [];
  if (opts.defaultGateway) {
    for (const ip of ips) if (ip.gateway) routes.push({ dst: defaultDst(isV6(ip.address)), gw: ip.gateway });
  }
  for (const r of ipamRoutes) {
    if (!routes.some((x) => x.dst === r.dst))
      routes.push({ ...r, gw: r.gw ?? familyGateway(ips, isV6(r.dst)) });
  }
  return routes;
}

export interface PodInterfaceAddressing {
  /** The interface inside the pod (CNI_IFNAME). */
  readonly ifName: string;
  /** Addresses with prefix length ("10.22.0.5/24"); IPv6 ones skip duplicate address detection. */
  readonly addresses: readonly string[];
  /** Routes via a gateway (or via the link, without `gw`). */
  readonly routes: readonly CniRoute[];
  /**
   * Gateways outside every address's prefix (a /32 pod with a link-local gateway): each gets a
   * scope-link host route first, so the routes via it are accepted.
   */
  readonly onLinkGateways?: readonly string[];
}

/**
 * Kernel ops, in order, for the pod side: the addresses, the link up, on-link routes to gateways,
 * then the routes (`route.replace`, so applying twice is harmless).
 */
export function podInterfaceOps(a: PodInterfaceAddressing): KernelOp[] {
  const ops: KernelOp[] = a.addresses.map((cidr) => ({
    op: "addr.add",
    dev: a.ifName,
    cidr,
    noDad: isV6(cidr),
  }));
  ops.push({ op: "link.set", name: a.ifName, up: true });
  for (const gw of a.onLinkGateways ?? []) {
    ops.push({
      op: "route.replace",
      route: { dst: `${gw}/${isV6(gw) ? 128 : 32}`, dev: a.ifName, scope: "link" },
    });
  }
  for (const r of a.routes) {
    ops.push({
      op: "route.replace",
      route: { dst: r.dst, via: r.gw, dev: a.ifName, ...(r.mtu ? { mtu: r.mtu } : {}) },
    });
  }
  return ops;
}

/**
 * The ADD result of a plugin that made `interfaces`, the pod interface listed last (its index is
 * what every IP names); DNS is IPAM's.
 */
export function attachmentResult(
  cniVersion: string,
  interfaces: CniResult["interfaces"] & {},
  ips: readonly CniIpConfig[],
  routes: readonly CniRoute[],
  ipam: CniResult,
): CniResult {
  const podIndex = interfaces.length - 1;
  return {
    cniVersion,
    interfaces: [...interfaces],
    ips: ips.map((ip) => ({ ...ip, interface: podIndex })),
    routes: [...routes],
    dns: ipam.dns ?? {},
  };
}
