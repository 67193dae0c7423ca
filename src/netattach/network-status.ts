import type { CniDns, CniResult } from "../cni/result.js";

/**
 * One entry of `k8s.v1.cni.cncf.io/network-status`, as Multus writes it (the Network Plumbing WG
 * spec, §4.1.2): the network's name (`namespace/name` for a definition, the network's own name
 * for the cluster network), the pod's interface, its addresses without prefix, MAC, whether it
 * carries the default route, and DNS.
 */
export interface NetworkStatus {
  readonly name: string;
  readonly interface: string;
  readonly ips: readonly string[];
  readonly mac?: string;
  readonly default: boolean;
  readonly dns: CniDns;
}

/**
 * The status of one attachment from its CNI result: the interface named `ifName` inside the pod
 * (sandbox set) gives the MAC, and the IPs that point at it (or name no interface) the addresses.
 */
export function networkStatus(
  name: string,
  ifName: string,
  result: CniResult,
  isDefault: boolean,
): NetworkStatus {
  const interfaces = result.interfaces ?? [];
  const index = interfaces.findIndex((i) => i.name === ifName && i.sandbox !== undefined && i.sandbox !== "");
  const fallback = index >= 0 ? index : interfaces.findIndex((i) => i.name === ifName);
  const iface = fallback >= 0 ? interfaces[fallback] : undefined;
  const ips = (result.ips ?? [])
    .filter((ip) => ip.interface === undefined || ip.interface === fallback)
    .map((ip) => ip.address.split("/")[0] as string);
  return {
    name,
    interface: ifName,
    ips,
    ...(iface?.mac ? { mac: iface.mac } : {}),
    default: isDefault,
    dns: result.dns ?? {},
  };
}
