import type { PathAttributes } from "../../bgp/codec/types.js";
import { type ImportPolicy, routeNextHop } from "../../bgp/rib/import-policy.js";
import type { PeerInfo } from "../../bgp/rib/path.js";
import { isIpv6OnlyLease, type NodeLease } from "../../cluster/node-lease.js";
import {
  canonicalAddress,
  type Ipv4Span,
  type Ipv6Span,
  ipv4Span,
  ipv6Span,
  numberToIpv4,
  spansOverlap,
} from "../../common/cidr.js";

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
 * - One rule set serves both families (familyRules): IPv4 over the leases' IPv4 subnet and
 *   publicIp; IPv6 over subnet6 and publicIp6 (dual stack), or subnet and publicIp of an
 *   IPv6-only cluster's lease. A node that leases no subnet of a family owns no prefix of it, so
 *   every such prefix from it is refused.
 */
export function clusterImportPolicy(
  self: NodeLease,
  nodes: readonly NodeLease[],
  o: ClusterImportOptions,
): ImportPolicy {
  return buildClusterPolicy(self, nodes, o).policy;
}

/** clusterImportPolicy with what it was built from and its indices (for policyScope). */
export interface ClusterPolicy {
  readonly policy: ImportPolicy;
  readonly self: NodeLease;
  /** Every lease it was built from (this node's among them). */
  readonly leases: ReadonlySet<NodeLease>;
  readonly options: ClusterImportOptions;
  /**
   * Two other leases share a subnet, an address or a node name (validation refuses that): which
   * one the policy goes by depends on their order in the list.
   */
  readonly ambiguous: boolean;
  /** The other node's lease whose subnet `prefix` is, in the policy's canonical text exactly. */
  readonly ownerOf: (prefix: string) => NodeLease | undefined;
}

/**
 * Does `prefix` overlap a subnet of one of `leases` (of its family)? undefined: not a prefix the
 * policy can span.
 */
export function overlapsAny(prefix: string, leases: readonly NodeLease[]): boolean | undefined {
  // The spans alone (cached by text), not the canonical text the rules build.
  if (prefix.includes(":")) {
    const s = ipv6Span(prefix);
    return s && leases.some((n) => overlapping(s, spannedIn(ipv6Family, n)));
  }
  const s = ipv4Span(prefix);
  return s && leases.some((n) => overlapping(s, spannedIn(ipv4Family, n)));
}

const overlapping = <S extends Ipv4Span | Ipv6Span>(span: S, claim: Spanned<S> | undefined) =>
  claim !== undefined && spansOverlap(span, claim.span);

/** Pure: clusterImportPolicy, and what policyScope compares two of. */
export function buildClusterPolicy(
  self: NodeLease,
  nodes: readonly NodeLease[],
  o: ClusterImportOptions,
): ClusterPolicy {
  // Who is speaking: a node may speak from any of its underlay addresses (IPv4 or IPv6 transport).
  const speakers = new Map<string, NodeLease>();
  const leases = new Set<NodeLease>();
  const v4 = new FamilyIndex<Ipv4Span>();
  const v6 = new FamilyIndex<Ipv6Span>();
  const names = new Set<string>();
  let addresses = 0;
  let others = 0;
  for (const n of nodes) {
    leases.add(n);
    if (n.node === self.node) continue;
    names.add(n.node);
    others++;
    const c = leaseClaims(n);
    for (const a of c.addresses) speakers.set(a, n);
    addresses += c.addresses.length;
    v4.add(spannedIn(ipv4Family, n));
    v6.add(spannedIn(ipv6Family, n));
  }
  const speaker = (address: string) => speakers.get(address) ?? speakers.get(canonicalAddress(address));
  const reflectors = new Set(o.routeReflectors);
  const ipv4 = familyRules(ipv4Family, spannedIn(ipv4Family, self), v4, speaker, reflectors, o);
  const ipv6 = familyRules(ipv6Family, spannedIn(ipv6Family, self), v6, speaker, reflectors, o);
  return {
    policy: (from, prefix, attributes) => (prefix.includes(":") ? ipv6 : ipv4)(from, prefix, attributes),
    self,
    leases,
    options: o,
    ambiguous: speakers.size !== addresses || names.size !== others || v4.ambiguous || v6.ambiguous,
    ownerOf: (prefix) => (v4.bySubnet.get(prefix) ?? v6.bySubnet.get(prefix))?.lease,
  };
}

/** The other nodes' claims in one family, as the rules look them up. */
class FamilyIndex<S extends Ipv4Span | Ipv6Span> {
  readonly list: Spanned<S>[] = [];
  readonly bySubnet = new Map<string, Spanned<S>>();
  readonly claimOf = new Map<string, Spanned<S>>();

  add(s: Spanned<S> | undefined): void {
    if (!s) return;
    this.list.push(s);
    this.bySubnet.set(s.subnet, s);
    this.claimOf.set(s.lease.node, s);
  }

  /** Two claims of one subnet, or two by one node: the last in the list wins. */
  get ambiguous(): boolean {
    return this.bySubnet.size !== this.list.length || this.claimOf.size !== this.list.length;
  }
}

/** What the policy reads of a lease: its subnets and addresses in canonical text (see leaseClaims). */
export interface LeaseClaims {
  /** Its IPv4 and IPv6 pod subnets as the policy matches prefixes against them. */
  readonly subnets: readonly string[];
  /** The addresses it speaks BGP from: publicIp, and publicIp6 when set. */
  readonly addresses: readonly string[];
}

const claimsOf = new WeakMap<NodeLease, LeaseClaims>();

/**
 * A lease's subnets and addresses in the policy's canonical text, once per lease object (the
 * policy is rebuilt over every lease at each lease change; validation reuses unchanged ones).
 */
export function leaseClaims(n: NodeLease): LeaseClaims {
  const known = claimsOf.get(n);
  if (known) return known;
  const subnets = [spannedIn(ipv4Family, n)?.subnet, spannedIn(ipv6Family, n)?.subnet].filter(
    (s): s is string => s !== undefined,
  );
  const addresses = [canonicalAddress(n.publicIp)];
  if (n.publicIp6) addresses.push(canonicalAddress(n.publicIp6));
  const c = { subnets, addresses };
  claimsOf.set(n, c);
  return c;
}

/** What differs between the families: how a prefix is spanned and which lease fields claim one. */
interface Family<S extends Ipv4Span | Ipv6Span> {
  /** In messages: "" (IPv4, as before dual stack) or "IPv6 ". */
  readonly label: string;
  readonly name: "IPv4" | "IPv6";
  readonly span: (prefix: string) => { span: S; canonical: string } | undefined;
  /** The node's pod subnet of this family and the address it must be the next hop of. */
  readonly claim: (n: NodeLease) => { subnet: string; address: string } | undefined;
  /** spanned's answers by lease object (leases are immutable; validation hands back the same one). */
  readonly spannedOf: WeakMap<NodeLease, Spanned<S> | null>;
}

/** A lease's claim in one family: its subnet as a span and in canonical text, and its address. */
interface Spanned<S> {
  readonly lease: NodeLease;
  readonly span: S;
  readonly subnet: string;
  readonly address: string;
}

/** A lease's claim in family `f`, once per lease object (policies are rebuilt at every lease change). */
function spannedIn<S extends Ipv4Span | Ipv6Span>(f: Family<S>, n: NodeLease): Spanned<S> | undefined {
  const known = f.spannedOf.get(n);
  if (known !== undefined) return known ?? undefined;
  const c = f.claim(n);
  const s = c && f.span(c.subnet);
  const v = s ? { lease: n, span: s.span, subnet: s.canonical, address: c.address } : null;
  f.spannedOf.set(n, v);
  return v ?? undefined;
}

const ipv4Family: Family<Ipv4Span> = {
  label: "",
  name: "IPv4",
  span: (prefix) => {
    const span = ipv4Span(prefix);
    return span && { span, canonical: `${numberToIpv4(span.first)}/${prefix.split("/")[1]}` };
  },
  claim: (n) => (isIpv6OnlyLease(n) ? undefined : { subnet: n.subnet, address: n.publicIp }),
  spannedOf: new WeakMap(),
};

const ipv6Family: Family<Ipv6Span> = {
  label: "IPv6 ",
  name: "IPv6",
  span: (prefix) => {
    const span = ipv6Span(prefix);
    return span && { span, canonical: span.canonical };
  },
  claim: (n) => {
    if (isIpv6OnlyLease(n)) return { subnet: n.subnet, address: canonicalAddress(n.publicIp) };
    return n.subnet6 && n.publicIp6
      ? { subnet: n.subnet6, address: canonicalAddress(n.publicIp6) }
      : undefined;
  },
  spannedOf: new WeakMap(),
};

/** The cluster's rules for one family's prefixes (see clusterImportPolicy). */
function familyRules<S extends Ipv4Span | Ipv6Span>(
  f: Family<S>,
  own: Spanned<S> | undefined,
  index: FamilyIndex<S>,
  speaker: (address: string) => NodeLease | undefined,
  reflectors: ReadonlySet<string>,
  o: ClusterImportOptions,
): (from: PeerInfo, prefix: string, attributes: PathAttributes) => string | undefined {
  // Leases as numeric spans, computed once per lease object: the checks below run per received
  // prefix, also for a peer that floods refused ones, so they must stay cheap with 1,000 nodes.
  const { list: others, bySubnet, claimOf } = index;
  const { label } = f;
  return (from, prefix, attributes) => {
    const s = f.span(prefix);
    if (!s) return `not an ${f.name} prefix: ${prefix}`;
    if (own && spansOverlap(s.span, own.span))
      return `overlaps this node's own ${label}pod subnet ${own.subnet}`;
    const owner = bySubnet.get(s.canonical);
    const peerNode = speaker(from.address);
    if (!owner) {
      const hit = others.find((n) => spansOverlap(s.span, n.span));
      if (hit) return `overlaps node ${hit.lease.node}'s ${label}pod subnet ${hit.subnet}`;
      if (peerNode) {
        const claim = claimOf.get(peerNode.node);
        return claim
          ? `not a node's ${label}pod subnet (node ${peerNode.node} may announce only ${claim.subnet})`
          : `not a node's pod subnet (node ${peerNode.node} leases no ${f.name} subnet)`;
      }
      return o.externalWithList.has(from.address)
        ? undefined
        : "outside the cluster's node subnets, and this peer has no import= list";
    }
    if (!peerNode) return undefined;
    if (owner.lease.node !== peerNode.node && !reflectors.has(peerNode.node))
      return `node ${owner.lease.node}'s ${label}pod subnet, announced by node ${peerNode.node} (only the owner or a route reflector may)`;
    const nh = routeNextHop(prefix, attributes);
    const hop = nh === undefined ? undefined : canonicalAddress(nh);
    if (hop !== owner.address)
      return `next hop ${hop ?? "none"} is not node ${owner.lease.node}'s ${label}address ${owner.address}`;
    return undefined;
  };
}
