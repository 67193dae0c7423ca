import ipaddr from "ipaddr.js";
import { z } from "zod";
import { canonicalCidr, contains, overlaps, parseCidr } from "../common/cidr.js";
import type { KeyValue } from "../datastore/api.js";
import type { NodeLease } from "./node-lease.js";

/** Where subnet leases live in the datastore: one key per node subnet, "/" written as "-". */
export const subnetPrefix = "/strata/subnets/";
export const subnetKey = (subnet: string): string => `${subnetPrefix}${subnet.replace("/", "-")}`;

/** What this node's configuration says every lease must look like. */
export interface LeasePolicy {
  readonly clusterCidr: string;
  readonly subnetLen: number;
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
const nodeName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, "must be a DNS subdomain (lowercase letters, digits, '-', '.')");
// A unicast MAC: the low bit of the first octet is the group bit.
const unicastMac = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, "must be a MAC address aa:bb:cc:dd:ee:ff")
  .refine((m) => (Number.parseInt(m.slice(0, 2), 16) & 1) === 0 && m !== "00:00:00:00:00:00", {
    message: "must be a unicast, non-zero MAC",
  });
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
  });

const leaseSchema = z.object({
  node: nodeName,
  subnet: z.union([z.cidrv4(), z.cidrv6()], { error: "must be a CIDR such as 10.244.1.0/24" }),
  publicIp: z.ipv4({ error: "must be an IPv4 address" }),
  publicPrefix: z.number().int().min(1).max(32),
  backend: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be a backend name such as vxlan"),
  backendData,
});

// Addresses no node can be reached at: "this network", loopback, multicast, reserved/broadcast.
const unusablePublic = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"];

type Checked = { ok: true; lease: NodeLease } | { ok: false; rejected: RejectedLease };

/** Pure: one lease's own rules (shape, key, cluster CIDR, prefix length, public address). */
export function checkLease(kv: Pick<KeyValue, "key" | "value">, policy: LeasePolicy): Checked {
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
  const lease: NodeLease = parsed.data;
  const { subnet, publicIp } = lease;
  if (canonicalCidr(subnet) !== subnet)
    return reject("malformed", `subnet ${subnet} has host bits set (${canonicalCidr(subnet)}?)`, lease);
  if (kv.key !== subnetKey(subnet))
    return reject(
      "key-mismatch",
      `key does not name its subnet ${subnet} (expected ${subnetKey(subnet)})`,
      lease,
    );
  const cluster = parseCidr(policy.clusterCidr);
  const own = parseCidr(subnet);
  if (
    own.addr.kind() !== cluster.addr.kind() ||
    own.prefix < cluster.prefix ||
    !contains(policy.clusterCidr, own.addr.toString())
  )
    return reject(
      "outside-cluster-cidr",
      `subnet ${subnet} is not inside the cluster CIDR ${policy.clusterCidr}`,
      lease,
    );
  if (own.prefix !== policy.subnetLen)
    return reject(
      "wrong-prefix-length",
      `subnet ${subnet} is not a /${policy.subnetLen} (the per-node prefix length)`,
      lease,
    );
  if (unusablePublic.some((r) => contains(r, publicIp)) || !ipaddr.IPv4.isValidFourPartDecimal(publicIp))
    return reject("bad-public-ip", `publicIp ${publicIp} cannot be a node address`, lease);
  if (cluster.addr.kind() === "ipv4" && contains(policy.clusterCidr, publicIp))
    return reject(
      "bad-public-ip",
      `publicIp ${publicIp} lies inside the cluster CIDR ${policy.clusterCidr}`,
      lease,
    );
  return { ok: true, lease };
}

/**
 * Pure: the leases every consumer may use. Each lease must pass its own rules (checkLease); among
 * those, two leases that overlap, name the same node or the same public address conflict, and the
 * older one (lower createRevision: it was there first) keeps the claim — a late forged or buggy
 * write can never take a subnet, a node name or an address away from a node that holds it.
 */
export function validateLeases(kvs: readonly KeyValue[], policy: LeasePolicy): ValidatedLeases {
  const rejected: RejectedLease[] = [];
  const candidates: { kv: KeyValue; lease: NodeLease }[] = [];
  for (const kv of kvs) {
    const r = checkLease(kv, policy);
    if (r.ok) candidates.push({ kv, lease: r.lease });
    else rejected.push(r.rejected);
  }
  candidates.sort((a, b) => a.kv.createRevision - b.kv.createRevision || (a.kv.key < b.kv.key ? -1 : 1));
  const kept: { kv: KeyValue; lease: NodeLease }[] = [];
  for (const c of candidates) {
    const conflict = firstConflict(c.lease, kept);
    if (!conflict) {
      kept.push(c);
      continue;
    }
    rejected.push({
      key: c.kv.key,
      node: c.lease.node,
      subnet: c.lease.subnet,
      reason: conflict.reason,
      detail: `${conflict.detail} of the older lease ${conflict.winner.kv.key} (node ${conflict.winner.lease.node}), which wins`,
      winner: conflict.winner.kv.key,
    });
  }
  return { leases: kept.map((k) => k.lease), rejected };
}

function firstConflict(
  lease: NodeLease,
  kept: readonly { kv: KeyValue; lease: NodeLease }[],
): { reason: LeaseRejection; detail: string; winner: { kv: KeyValue; lease: NodeLease } } | undefined {
  for (const w of kept) {
    if (overlaps(w.lease.subnet, lease.subnet))
      return { reason: "overlap", detail: `subnet ${lease.subnet} overlaps ${w.lease.subnet}`, winner: w };
    if (w.lease.node === lease.node)
      return { reason: "duplicate-node", detail: `node name ${lease.node} is already the node`, winner: w };
    if (w.lease.publicIp === lease.publicIp)
      return {
        reason: "duplicate-public-ip",
        detail: `publicIp ${lease.publicIp} is already the address`,
        winner: w,
      };
  }
  return undefined;
}

/** A stable identity of a rejection, so a conflict is logged once, not on every pass. */
export const rejectionId = (r: RejectedLease): string =>
  `${r.key}|${r.reason}|${r.node ?? ""}|${r.subnet ?? ""}|${r.winner ?? ""}`;
