import ipaddr from "ipaddr.js";
import { z } from "zod";
import { canonicalCidr } from "../common/cidr.js";
import { isWireguardKey } from "../common/wireguard-key-format.js";
import type { KeyValue } from "../datastore/api.js";
import { isUnicastMac } from "../kernel/mac-address.js";
import type { NodeLease } from "./node-lease.js";

/** Where subnet leases live in the datastore: one key per node subnet, "/" written as "-". */
export const subnetPrefix = "/strata/subnets/";
export const subnetKey = (subnet: string): string => `${subnetPrefix}${subnet.replace("/", "-")}`;

/** What this node's configuration says every lease must look like. */
export interface LeasePolicy {
  readonly clusterCidr: string;
  readonly subnetLen: number;
  /**
   * Dual stack: the cluster's IPv6 CIDR and per-node prefix length. Absent (an IPv4-only
   * cluster): a lease's subnet6 and publicIp6 are checked for shape, then dropped (no IPv6 routes).
   */
  readonly clusterCidr6?: string;
  readonly subnetLen6?: number;
}

/** Why a lease read from the datastore is not used (stable codes: logs, /healthz, tests). */
export type LeaseRejection =
  | "malformed"
  | "key-mismatch"
  | "outside-cluster-cidr"
  | "wrong-prefix-length"
  | "bad-public-ip"
  | "overlap"
  | "duplicate-node"
  | "duplicate-public-ip";

export interface RejectedLease {
  readonly key: string;
  /** From the value, when it had one. */
  readonly node?: string;
  readonly subnet?: string;
  readonly reason: LeaseRejection;
  /** What is wrong, for a human. */
  readonly detail: string;
  /** A conflict: the key of the older lease that keeps the claim. */
  readonly winner?: string;
}

export interface ValidatedLeases {
  /** Leases that passed every rule and lost no conflict, oldest first. */
  readonly leases: NodeLease[];
  readonly rejected: RejectedLease[];
}

// Kubernetes node names are DNS subdomains (RFC 1123): lowercase, at most 253 characters.
export const nodeName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, "must be a DNS subdomain (lowercase letters, digits, '-', '.')");
// A unicast MAC: the low bit of the first octet is the group bit.
const unicastMac = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, "must be a MAC address aa:bb:cc:dd:ee:ff")
  .refine(isUnicastMac, { message: "must be a unicast, non-zero MAC" });
const backendData = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, "keys are identifiers of at most 64 characters"),
    z
      .string()
      .max(256)
      .regex(/^[\x20-\x7e]*$/, "values are printable ASCII"),
  )
  .refine((d) => Object.keys(d).length <= 16, { message: "at most 16 entries" })
  .superRefine((d, ctx) => {
    // Known keys go straight into kernel state (FDB, neighbours): check their format here.
    if (d.vtepMac !== undefined) {
      const r = unicastMac.safeParse(d.vtepMac);
      if (!r.success)
        ctx.addIssue({ code: "custom", path: ["vtepMac"], message: r.error.issues[0]?.message });
    }
    if (d.vni !== undefined && !(/^(0|[1-9]\d{0,7})$/.test(d.vni) && Number(d.vni) < 2 ** 24))
      ctx.addIssue({ code: "custom", path: ["vni"], message: "must be a VXLAN network identifier" });
    // The wireguard backend's: a peer's key and port go straight into the device's peer table.
    if (d.wgPublicKey !== undefined && !isWireguardKey(d.wgPublicKey))
      ctx.addIssue({
        code: "custom",
        path: ["wgPublicKey"],
        message: "must be a WireGuard public key (32 bytes in base64, 44 characters)",
      });
    if (
      d.wgListenPort !== undefined &&
      !(/^[1-9]\d{0,4}$/.test(d.wgListenPort) && Number(d.wgListenPort) <= 65535)
    )
      ctx.addIssue({ code: "custom", path: ["wgListenPort"], message: "must be a UDP port 1-65535" });
  });

// subnet and publicIp are absent from an IPv6-only cluster's lease (Flannel's with only
// IPv6Subnet/PublicIPv6): a lease carries at least one family, checked in `check`.
const leaseSchema = z.object({
  node: nodeName,
  subnet: z.union([z.cidrv4(), z.cidrv6()], { error: "must be a CIDR such as 10.244.1.0/24" }).optional(),
  publicIp: z.ipv4({ error: "must be an IPv4 address" }).optional(),
  publicPrefix: z.number().int().min(1).max(128),
  subnet6: z.cidrv6({ error: "must be an IPv6 CIDR such as fd00:10:244:1::/64" }).optional(),
  publicIp6: z.ipv6({ error: "must be an IPv6 address" }).optional(),
  backend: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be a backend name such as vxlan"),
  backendData,
});

// Addresses no node can be reached at: "this network", loopback, multicast, reserved/broadcast.
const unusablePublic = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"].map((r) =>
  ipaddr.IPv4.parseCIDR(r),
);

// IPv6 next hops a node cannot be reached at: a link-local one names no link, the others no host.
const unusablePublic6 = new Set(["unspecified", "linkLocal", "multicast", "loopback", "ipv4Mapped"]);

type Compiled = {
  /** The policy's rules as text: equal policies check alike (checkShared). */
  readonly id: string;
  readonly cluster: [ipaddr.IPv4 | ipaddr.IPv6, number];
  readonly cluster6?: [ipaddr.IPv4 | ipaddr.IPv6, number];
  /** An IPv6-only cluster (its primary CIDR is IPv6): leases carry subnet6 and publicIp6 alone. */
  readonly ipv6Only: boolean;
};
/** One per policy object (every lease view of an agent validates under the same one). */
const compiledPolicies = new WeakMap<LeasePolicy, Compiled>();
const compile = (policy: LeasePolicy): Compiled => {
  const known = compiledPolicies.get(policy);
  if (known) return known;
  const c = compileNow(policy);
  compiledPolicies.set(policy, c);
  return c;
};
const compileNow = (policy: LeasePolicy): Compiled => {
  const cluster = ipaddr.parseCIDR(policy.clusterCidr);
  const { clusterCidr, subnetLen, clusterCidr6, subnetLen6 } = policy;
  return {
    id: JSON.stringify([clusterCidr, subnetLen, clusterCidr6, subnetLen6]),
    cluster,
    ...(policy.clusterCidr6 ? { cluster6: ipaddr.parseCIDR(policy.clusterCidr6) } : {}),
    ipv6Only: cluster[0].kind() === "ipv6",
  };
};

/** An IPv6-only cluster's policy seen as the IPv6 half of a dual-stack one (checkIpv6Part's terms). */
const asIpv6Half = (policy: LeasePolicy): LeasePolicy => ({
  ...policy,
  clusterCidr6: policy.clusterCidr,
  subnetLen6: policy.subnetLen,
});

export type CheckedLease = { ok: true; lease: NodeLease } | { ok: false; rejected: RejectedLease };

/**
 * Results of checkLease by key, valid while the key's modRevision is unchanged: a watch event
 * then re-checks one lease, not all of them.
 */
export type LeaseCheckMemo = Map<string, { readonly modRevision: number; readonly checked: CheckedLease }>;

/** Pure: one lease's own rules (shape, key, cluster CIDR, prefix length, public address). */
export function checkLease(kv: Pick<KeyValue, "key" | "value">, policy: LeasePolicy): CheckedLease {
  return check(kv, policy, compile(policy));
}

/**
 * checkLease's results shared by every validator in this process, by policy, key and value: an
 * agent host runs up to 50 node agents, each validating the same leases (a 200-node lab checked
 * 40,000 leases for 200 distinct ones). The result is a function of exactly these inputs; at most
 * `sharedChecksMax` are kept, the oldest going first.
 */
const sharedChecks = new Map<string, CheckedLease>();
const sharedChecksMax = 4096;
function checkShared(kv: Pick<KeyValue, "key" | "value">, policy: LeasePolicy, c: Compiled): CheckedLease {
  const id = `${c.id}\n${kv.key}\n${kv.value}`;
  const known = sharedChecks.get(id);
  if (known) return known;
  const r = check(kv, policy, c);
  if (sharedChecks.size >= sharedChecksMax) sharedChecks.delete(sharedChecks.keys().next().value as string);
  sharedChecks.set(id, r);
  return r;
}

function check(kv: Pick<KeyValue, "key" | "value">, policy: LeasePolicy, c: Compiled): CheckedLease {
  const reject = (reason: LeaseRejection, detail: string, from?: { node?: unknown; subnet?: unknown }) => {
    const node = typeof from?.node === "string" ? from.node.slice(0, 253) : undefined;
    const subnet = typeof from?.subnet === "string" ? from.subnet.slice(0, 64) : undefined;
    return {
      ok: false as const,
      rejected: { key: kv.key, ...(node ? { node } : {}), ...(subnet ? { subnet } : {}), reason, detail },
    };
  };
  let json: unknown;
  try {
    json = JSON.parse(kv.value);
  } catch {
    return reject("malformed", "value is not JSON");
  }
  const parsed = leaseSchema.safeParse(json);
  const loose = (typeof json === "object" && json !== null ? json : {}) as {
    node?: unknown;
    subnet?: unknown;
  };
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "value"} ${i.message}`);
    return reject("malformed", issues.slice(0, 3).join("; "), loose);
  }
  const { subnet6: rawSubnet6, publicIp6: rawIp6, subnet: rawSubnet, publicIp: rawIp, ...rest } = parsed.data;
  if (rawSubnet === undefined && rawIp === undefined)
    return checkIpv6Only(kv, policy, c, rest, rawSubnet6, rawIp6, reject);
  if (rawSubnet === undefined || rawIp === undefined)
    return reject("malformed", "subnet and publicIp come together (one is missing)", loose);
  const lease: NodeLease = { ...rest, subnet: rawSubnet, publicIp: rawIp };
  const { subnet, publicIp } = lease;
  if (c.ipv6Only)
    return reject(
      "outside-cluster-cidr",
      `the lease carries subnet ${subnet}, but this cluster is IPv6-only (${policy.clusterCidr}): its leases carry subnet6 and publicIp6 alone`,
      lease,
    );
  if (lease.publicPrefix > 32)
    return reject("malformed", `publicPrefix ${lease.publicPrefix} is longer than an IPv4 address`, lease);
  const own = checkPodSubnet(subnet, policy, c);
  if (own?.reason === "malformed") return reject(own.reason, own.detail, lease);
  if (kv.key !== subnetKey(subnet))
    return reject(
      "key-mismatch",
      `key does not name its subnet ${subnet} (expected ${subnetKey(subnet)})`,
      lease,
    );
  if (own) return reject(own.reason, own.detail, lease);
  const ip = ipaddr.IPv4.parse(publicIp);
  if (unusablePublic.some((r) => ip.match(r)))
    return reject("bad-public-ip", `publicIp ${publicIp} cannot be a node address`, lease);
  if (c.cluster[0].kind() === "ipv4" && ip.match(c.cluster))
    return reject(
      "bad-public-ip",
      `publicIp ${publicIp} lies inside the cluster CIDR ${policy.clusterCidr}`,
      lease,
    );
  if (rawSubnet6 === undefined && rawIp6 === undefined) return { ok: true, lease };
  if (rawSubnet6 === undefined || rawIp6 === undefined)
    return reject("malformed", "subnet6 and publicIp6 come together (one is missing)", lease);
  // An IPv4-only cluster routes no IPv6: the fields are dropped, the lease stays good.
  if (!c.cluster6) return { ok: true, lease };
  const six = checkIpv6Part(rawSubnet6, rawIp6, policy, c.cluster6);
  if ("reason" in six) return reject(six.reason, six.detail, lease);
  return { ok: true, lease: { ...lease, ...six } };
}

type Rejecter = (
  reason: LeaseRejection,
  detail: string,
  from?: { node?: unknown; subnet?: unknown },
) => CheckedLease;

/**
 * An IPv6-only cluster's lease (Flannel's EnableIPv4=false: only IPv6Subnet and PublicIPv6): its
 * subnet6 and publicIp6 are checked as a dual-stack lease's are, and become the lease's primary
 * subnet and publicIp in memory (NodeLease.subnet is the node's pod subnet in the cluster's
 * primary family). Refused in an IPv4 or dual-stack cluster, which needs an IPv4 subnet.
 */
function checkIpv6Only(
  kv: Pick<KeyValue, "key">,
  policy: LeasePolicy,
  c: Compiled,
  rest: Omit<NodeLease, "subnet" | "publicIp" | "subnet6" | "publicIp6">,
  subnet6: string | undefined,
  publicIp6: string | undefined,
  reject: Rejecter,
): CheckedLease {
  const from = { node: rest.node, subnet: subnet6 };
  if (subnet6 === undefined || publicIp6 === undefined)
    return reject(
      "malformed",
      "a lease carries at least one family: subnet and publicIp, or (IPv6-only) subnet6 and publicIp6",
      from,
    );
  if (!c.ipv6Only)
    return reject(
      "outside-cluster-cidr",
      `an IPv6-only lease (subnet6 ${subnet6}, no subnet) in a cluster whose pods are numbered from ${policy.clusterCidr}`,
      from,
    );
  const six = checkIpv6Part(subnet6, publicIp6, asIpv6Half(policy), c.cluster);
  if ("reason" in six) return reject(six.reason, six.detail, from);
  if (kv.key !== subnetKey(six.subnet6))
    return reject(
      "key-mismatch",
      `key does not name its subnet6 ${six.subnet6} (expected ${subnetKey(six.subnet6)})`,
      from,
    );
  return { ok: true, lease: { ...rest, subnet: six.subnet6, publicIp: six.publicIp6 } };
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Pure: whether `subnet` can be a node's pod subnet in the cluster's primary family (canonical,
 * inside the cluster CIDR, the per-node length): why not, or undefined. The one judge of a
 * subnet, for leases read and for the subnet a restarting node wants back.
 */
export function checkPodSubnet(
  subnet: string,
  policy: LeasePolicy,
  c: Pick<Compiled, "cluster" | "ipv6Only"> = compile(policy),
): Refusal | undefined {
  if (c.ipv6Only) return checkSubnet6(subnet, asIpv6Half(policy), c.cluster);
  if (!ipaddr.isValidCIDR(subnet)) return no("malformed", `subnet ${subnet} is not a CIDR`);
  const [addr, prefix] = ipaddr.parseCIDR(subnet);
  const canonical = canonicalCidr(subnet);
  if (canonical !== subnet) return no("malformed", `subnet ${subnet} has host bits set (${canonical}?)`);
  if (addr.kind() !== c.cluster[0].kind() || prefix < c.cluster[1] || !addr.match(c.cluster))
    return no(
      "outside-cluster-cidr",
      `subnet ${subnet} is not inside the cluster CIDR ${policy.clusterCidr}`,
    );
  if (prefix !== policy.subnetLen)
    return no(
      "wrong-prefix-length",
      `subnet ${subnet} is not a /${policy.subnetLen} (the per-node prefix length)`,
    );
  return undefined;
}
type Refusal = { reason: LeaseRejection; detail: string };
const no = (reason: LeaseRejection, detail: string): Refusal => ({ reason, detail });

/**
 * Pure: whether `subnet6` can be a node's IPv6 pod subnet under a dual-stack policy (canonical,
 * inside the IPv6 cluster CIDR, the per-node length); why not, or undefined.
 */
export function checkSubnet6(
  subnet6: string,
  policy: LeasePolicy,
  cluster6: Cidr = ipaddr.parseCIDR(policy.clusterCidr6 ?? "::/0"),
): Refusal | undefined {
  if (!ipaddr.IPv6.isValidCIDR(subnet6)) return no("malformed", `subnet6 ${subnet6} is not an IPv6 CIDR`);
  const [addr, prefix] = ipaddr.parseCIDR(subnet6);
  const canonical = canonicalCidr(subnet6);
  if (canonical !== subnet6) return no("malformed", `subnet6 ${subnet6} is not canonical (${canonical}?)`);
  if (addr.kind() !== cluster6[0].kind() || prefix < cluster6[1] || !addr.match(cluster6))
    return no(
      "outside-cluster-cidr",
      `subnet6 ${subnet6} is not inside the cluster's IPv6 CIDR ${policy.clusterCidr6}`,
    );
  if (prefix !== policy.subnetLen6)
    return no(
      "wrong-prefix-length",
      `subnet6 ${subnet6} is not a /${policy.subnetLen6} (the per-node IPv6 prefix length)`,
    );
  return undefined;
}

/** Pure: a lease's IPv6 part under a dual-stack policy: the fields normalised, or why not. */
export function checkIpv6Part(
  subnet6: string,
  publicIp6: string,
  policy: LeasePolicy,
  cluster6: Cidr = ipaddr.parseCIDR(policy.clusterCidr6 ?? "::/0"),
): { subnet6: string; publicIp6: string } | Refusal {
  const refused = checkSubnet6(subnet6, policy, cluster6);
  if (refused) return refused;
  const ip = ipaddr.IPv6.parse(publicIp6);
  if (unusablePublic6.has(ip.range()))
    return no("bad-public-ip", `publicIp6 ${publicIp6} cannot be a node's global address (${ip.range()})`);
  if (ip.match(cluster6))
    return no(
      "bad-public-ip",
      `publicIp6 ${publicIp6} lies inside the cluster's IPv6 CIDR ${policy.clusterCidr6}`,
    );
  return { subnet6, publicIp6: ip.toString() };
}

/**
 * Pure: the leases every consumer may use. Each lease must pass its own rules (checkLease); among
 * those, two leases that overlap, name the same node or the same public address conflict, and the
 * older one (lower createRevision: it was there first) keeps the claim — a late forged or buggy
 * write can never take a subnet, a node name or an address away from a node that holds it.
 */
export function validateLeases(
  kvs: readonly KeyValue[],
  policy: LeasePolicy,
  memo?: LeaseCheckMemo,
): ValidatedLeases {
  const compiled = compile(policy);
  const rejected: RejectedLease[] = [];
  const candidates: { kv: KeyValue; lease: NodeLease }[] = [];
  for (const kv of kvs) {
    const hit = memo?.get(kv.key);
    const fresh = hit !== undefined && hit.modRevision === kv.modRevision;
    const r = fresh ? hit.checked : checkShared(kv, policy, compiled);
    if (!fresh) memo?.set(kv.key, { modRevision: kv.modRevision, checked: r });
    if (r.ok) candidates.push({ kv, lease: r.lease });
    else rejected.push(r.rejected);
  }
  // Keys gone from the datastore leave the memo (every key listed is in it now, so only then is
  // it larger).
  if (memo && memo.size > kvs.length) {
    const present = new Set(kvs.map((kv) => kv.key));
    for (const key of memo.keys()) if (!present.has(key)) memo.delete(key);
  }
  candidates.sort((a, b) => a.kv.createRevision - b.kv.createRevision || (a.kv.key < b.kv.key ? -1 : 1));
  // Every candidate is canonical and has the per-node length, so two overlap exactly when their
  // subnets are equal: one map per claim keeps this linear (a thousand nodes, every watch event).
  type Kept = { kv: KeyValue; lease: NodeLease };
  const bySubnet = new Map<string, Kept>();
  const byNode = new Map<string, Kept>();
  const byIp = new Map<string, Kept>();
  // Dual stack: subnet6 and publicIp6 are claims too (canonical and of one length, like subnet).
  const bySubnet6 = new Map<string, Kept>();
  const byIp6 = new Map<string, Kept>();
  const kept: Kept[] = [];
  const at = <K>(m: Map<K, Kept>, k: K | undefined) => (k === undefined ? undefined : m.get(k));
  // The first claim of `l` an older lease holds already. This runs for every lease at every view,
  // so nothing is made for a lease without a conflict (its detail is written only for one).
  const claimTaken = (l: NodeLease): [LeaseRejection, Kept, string] | undefined => {
    const { subnet, node, publicIp, subnet6, publicIp6 } = l;
    const s = bySubnet.get(subnet);
    if (s) return ["overlap", s, `subnet ${subnet} overlaps ${s.lease.subnet}`];
    const n = byNode.get(node);
    if (n) return ["duplicate-node", n, `node name ${node} is already the node`];
    const ip = byIp.get(publicIp);
    if (ip) return ["duplicate-public-ip", ip, `publicIp ${publicIp} is already the address`];
    const s6 = at(bySubnet6, subnet6);
    if (s6) return ["overlap", s6, `subnet6 ${subnet6} is already the IPv6 subnet`];
    const ip6 = at(byIp6, publicIp6);
    if (ip6) return ["duplicate-public-ip", ip6, `publicIp6 ${publicIp6} is already the address`];
    return undefined;
  };
  for (const c of candidates) {
    const { subnet, node, publicIp, subnet6, publicIp6 } = c.lease;
    const lost = claimTaken(c.lease);
    if (!lost) {
      kept.push(c);
      bySubnet.set(subnet, c);
      byNode.set(node, c);
      byIp.set(publicIp, c);
      if (subnet6 !== undefined) bySubnet6.set(subnet6, c);
      if (publicIp6 !== undefined) byIp6.set(publicIp6, c);
      continue;
    }
    const [reason, winner, detail] = lost;
    rejected.push({
      key: c.kv.key,
      node,
      subnet,
      reason,
      detail: `${detail} of the older lease ${winner.kv.key} (node ${winner.lease.node}), which wins`,
      winner: winner.kv.key,
    });
  }
  return { leases: kept.map((k) => k.lease), rejected };
}

/** A stable identity of a rejection, so a conflict is logged once, not on every pass. */
export const rejectionId = (r: RejectedLease): string =>
  `${r.key}|${r.reason}|${r.node ?? ""}|${r.subnet ?? ""}|${r.winner ?? ""}`;
