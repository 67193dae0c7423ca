/**
 * What a node publishes about itself in the datastore with its subnet lease (Flannel's lease
 * attributes): the underlay address others reach it at, and per-backend data such as the VTEP MAC.
 */
export interface NodeLease {
  readonly node: string;
  /**
   * Pod subnet of this node (CIDR), taken from the cluster CIDR: IPv4 on an IPv4-only or
   * dual-stack cluster, IPv6 on an IPv6-only one (stored there as subnet6: leaseValue).
   */
  readonly subnet: string;
  /** Underlay (public) address of the node, of the same family as subnet. */
  readonly publicIp: string;
  /** Prefix length of the underlay subnet the node's address sits on (to judge L2 adjacency). */
  readonly publicPrefix: number;
  /**
   * Dual stack: the node's IPv6 pod subnet, from the cluster's IPv6 CIDR (absent on an IPv4-only
   * or IPv6-only cluster, and in leases of agents before dual stack: those stay valid).
   */
  readonly subnet6?: string;
  /** Dual stack: the node's global IPv6 underlay address, the next hop for subnet6 (with subnet6). */
  readonly publicIp6?: string;
  readonly backend: string;
  /** Backend data, e.g. { vtepMac } for vxlan. */
  readonly backendData: Readonly<Record<string, string>>;
}

/** Is this the lease of an IPv6-only cluster's node (its primary subnet is IPv6)? */
export const isIpv6OnlyLease = (lease: Pick<NodeLease, "subnet">): boolean => lease.subnet.includes(":");

/** The address families a node's pods are numbered in: its primary subnet's, and IPv6 on dual stack. */
export const leaseFamilies = (lease: Pick<NodeLease, "subnet" | "subnet6">): (4 | 6)[] =>
  isIpv6OnlyLease(lease) ? [6] : lease.subnet6 ? [4, 6] : [4];

/**
 * Pure: the value stored at a lease's key. As in memory, except an IPv6-only node's lease, which is
 * written the Flannel way (EnableIPv4=false: only IPv6Subnet and PublicIPv6): subnet6 and
 * publicIp6, no subnet or publicIp. An IPv4 or dual-stack lease is written exactly as before.
 */
export function leaseValue(lease: NodeLease): string {
  if (!isIpv6OnlyLease(lease)) return JSON.stringify(lease);
  const { node, subnet, publicIp, publicPrefix, backend, backendData } = lease;
  return JSON.stringify({ node, subnet6: subnet, publicIp6: publicIp, publicPrefix, backend, backendData });
}
