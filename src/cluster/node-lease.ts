/**
 * What a node publishes about itself in the datastore with its subnet lease (Flannel's lease
 * attributes): the underlay address others reach it at, and per-backend data such as the VTEP MAC.
 */
export interface NodeLease {
  readonly node: string;
  /** Pod subnet of this node (CIDR), taken from the cluster CIDR. */
  readonly subnet: string;
  /** Underlay (public) IPv4 address of the node. */
  readonly publicIp: string;
  /** Prefix length of the underlay subnet the node's address sits on (to judge L2 adjacency). */
  readonly publicPrefix: number;
  /**
   * Dual stack: the node's IPv6 pod subnet, from the cluster's IPv6 CIDR (absent on an IPv4-only
   * cluster, and in leases of agents before dual stack: those stay valid).
   */
  readonly subnet6?: string;
  /** Dual stack: the node's global IPv6 underlay address, the next hop for subnet6 (with subnet6). */
  readonly publicIp6?: string;
  readonly backend: string;
  /** Backend data, e.g. { vtepMac } for vxlan. */
  readonly backendData: Readonly<Record<string, string>>;
}
