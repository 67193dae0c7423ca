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
  readonly backend: string;
  /** Backend data, e.g. { vtepMac } for vxlan. */
  readonly backendData: Readonly<Record<string, string>>;
}
