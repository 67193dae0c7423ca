import ipaddr from "ipaddr.js";
import type { PathAttributes } from "../../bgp/codec/types.js";
import { type ImportPolicy, routeNextHop } from "../../bgp/rib/import-policy.js";
import type { PeerInfo } from "../../bgp/rib/path.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { type Ipv6Span, ipv4Span, ipv6Span, numberToIpv4, spansOverlap } from "../../common/cidr.js";

export interface ClusterImportOptions {
  /** Nodes that reflect (RFC 4456): they pass on other nodes' subnets, so they may announce them. */
  readonly routeReflectors: readonly string[];
  /** External peers (by address) that have an import= list of their own. */
  readonly externalWithList: ReadonlySet<string>;
}

/**
 * Pure: the cluster's import policy, from every node's lease (already validated by the datastore
 * layer). The datastore says who owns which pod subnet; BGP may only confirm that, never change it.
 *
 * - From a cluster node: exactly the subnet it leases — not a more-specific of it (a node
 *   originates its whole lease and nothing else, so an exact match keeps the kernel's routes the
 *   datastore's one-to-one and leaves no room for a carve-out), with NEXT_HOP = that node's
 *   address. A route reflector may also pass on another node's exact subnet, NEXT_HOP unchanged
 *   (reflection leaves it alone), i.e. still pointing at the owner.
 * - From an external peer (a top-of-rack router): another node's exact subnet (the router passing
 *   the cluster's routes on), or — only when the peer has an import= list, which the speaker
 *   checked first — prefixes that overlap no node's subnet.
 * - From anyone: nothing that overlaps this node's own subnet, no more-specific or covering prefix
 *   of another node's subnet.
 * - IPv6 (dual stack) by the same rules over the leases' subnet6, the next hop being the owner's
 *   publicIp6. A node without a leased subnet6 (an IPv4-only cluster) owns no IPv6 prefix, so
 *   every IPv6 prefix from a cluster node is refused.
 */
export function clusterImportPolicy(
  self: NodeLease,
  nodes: readonly NodeLease[],
  o: ClusterImportOptions,
): ImportPolicy {
  // Leases as numeric spans, computed once per lease change: the checks below run per received
  // prefix, also for a peer that floods refused ones, so they must stay cheap with 1,000 nodes.
  const spanned = (n: NodeLease) => {
    const span = ipv4Span(n.subnet);
    return span && { lease: n, span, subnet: `${numberToIpv4(span.first)}/${n.subnet.split("/")[1]}` };
  };
  const own = spanned(self);
  const others = nodes.filter((n) => n.node !== self.node).flatMap((n) => spanned(n) ?? []);
  const bySubnet = new Map(others.map((n) => [n.subnet, n.lease]));
  const byAddress = new Map(others.map((n) => [n.lease.publicIp, n.lease]));
  const reflectors = new Set(o.routeReflectors);
  const ipv6 = ipv6Policy(self, nodes, byAddress, reflectors, o);
  return (from, prefix, attributes) => {
    if (prefix.includes(":")) return ipv6(from, prefix, attributes);
    const span = ipv4Span(prefix);
    if (span && own && spansOverlap(span, own.span))
      return `overlaps this node's own pod subnet ${own.subnet}`;
    const owner = bySubnet.get(prefix);
    const peerNode = byAddress.get(from.address);
    if (!owner) {
      const hit = span && others.find((n) => spansOverlap(span, n.span));
      if (hit) return `overlaps node ${hit.lease.node}'s pod subnet ${hit.subnet}`;
      if (peerNode)
        return `not a node's pod subnet (node ${peerNode.node} may announce only ${peerNode.subnet})`;
      return o.externalWithList.has(from.address)
        ? undefined
        : "outside the cluster's node subnets, and this peer has no import= list";
    }
    if (!peerNode) return undefined;
    if (owner.node !== peerNode.node && !reflectors.has(peerNode.node))
      return `node ${owner.node}'s pod subnet, announced by node ${peerNode.node} (only the owner or a route reflector may)`;
    const nh = routeNextHop(prefix, attributes);
    if (nh !== owner.publicIp)
      return `next hop ${nh ?? "none"} is not node ${owner.node}'s address ${owner.publicIp}`;
    return undefined;
  };
}

/** The IPv6 half of the cluster's policy: the same rules over subnet6 and publicIp6. */
function ipv6Policy(
  self: NodeLease,
  nodes: readonly NodeLease[],
  byAddress: ReadonlyMap<string, NodeLease>,
  reflectors: ReadonlySet<string>,
  o: ClusterImportOptions,
): (from: PeerInfo, prefix: string, attributes: PathAttributes) => string | undefined {
  const spanned = (n: NodeLease) => {
    const span = n.subnet6 && n.publicIp6 ? ipv6Span(n.subnet6) : undefined;
    return span && { lease: n, span };
  };
  const own = spanned(self);
  const others = nodes.filter((n) => n.node !== self.node).flatMap((n) => spanned(n) ?? []);
  const bySubnet = new Map(others.map((n) => [n.span.canonical, n.lease]));
  // A node may also speak from its IPv6 address (a session over IPv6 transport).
  const peers = new Map(byAddress);
  for (const n of nodes) if (n.publicIp6 && n.node !== self.node) peers.set(n.publicIp6, n);
  const canonicalIp = (a: string | undefined) => (a && ipaddr.isValid(a) ? ipaddr.parse(a).toString() : a);
  return (from, prefix, attributes) => {
    const span: Ipv6Span | undefined = ipv6Span(prefix);
    if (!span) return `not an IPv6 prefix: ${prefix}`;
    if (own && spansOverlap(span, own.span))
      return `overlaps this node's own IPv6 pod subnet ${own.span.canonical}`;
    const owner = bySubnet.get(span.canonical);
    const peerNode = peers.get(canonicalIp(from.address) ?? from.address);
    if (!owner) {
      const hit = others.find((n) => spansOverlap(span, n.span));
      if (hit) return `overlaps node ${hit.lease.node}'s IPv6 pod subnet ${hit.span.canonical}`;
      if (peerNode)
        return peerNode.subnet6
          ? `not a node's IPv6 pod subnet (node ${peerNode.node} may announce only ${peerNode.subnet6})`
          : `not a node's pod subnet (node ${peerNode.node} leases no IPv6 subnet)`;
      return o.externalWithList.has(from.address)
        ? undefined
        : "outside the cluster's node subnets, and this peer has no import= list";
    }
    if (!peerNode) return undefined;
    if (owner.node !== peerNode.node && !reflectors.has(peerNode.node))
      return `node ${owner.node}'s IPv6 pod subnet, announced by node ${peerNode.node} (only the owner or a route reflector may)`;
    const nh = canonicalIp(routeNextHop(prefix, attributes));
    if (nh !== owner.publicIp6)
      return `next hop ${nh ?? "none"} is not node ${owner.node}'s IPv6 address ${owner.publicIp6}`;
    return undefined;
  };
}
