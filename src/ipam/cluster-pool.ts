import ipaddr from "ipaddr.js";
import { z } from "zod";
import { CniError, CniErrorCode } from "../cni/errors.js";
import type { CniIpConfig } from "../cni/result.js";
import type { Datastore, KeyValue } from "../datastore/api.js";
import { formatIp, type Ip, parseIp } from "./address.js";
import { candidates, rangeOf } from "./allocator.js";
import type { ClusterIpamConfig, Exclusion } from "./cluster-config.js";
import type { IpRange } from "./config.js";
import type { Allocation } from "./ipam.js";

/**
 * Cluster-wide IPAM (the role of Whereabouts or DANM): every node allocates from one pool in the
 * datastore. One key per address, `/strata/cluster-ipam/pools/<subnet>/<ip>`, made with the
 * store's create-if-absent (etcd: a transaction on CreateRevision == 0), so two nodes can never
 * hold one address: whoever creates the key has it, the other moves on to the next candidate.
 * Pools are keyed by subnet, not by network name, so two definitions over one subnet share it.
 *
 * Each record names its owner: node, container id, interface, the pod's netns path, the network
 * and the pod. That is how a dead pod is recognised (collectStranded below).
 */
export const clusterIpamPrefix = "/strata/cluster-ipam/";
export const poolsPrefix = `${clusterIpamPrefix}pools/`;
/** A node seen without a heartbeat, and since when: its allocations are freed after the grace period. */
export const suspectsPrefix = `${clusterIpamPrefix}suspect-nodes/`;
export const poolPrefix = (subnet: string): string => `${poolsPrefix}${subnet.replace("/", "_")}/`;

export interface ClusterOwner {
  readonly node: string;
  readonly containerId: string;
  readonly ifName: string;
  /** CNI_NETNS at ADD: gone means the pod is gone. */
  readonly netns: string;
  readonly network: string;
  /** namespace/name, when the runtime passed K8S_POD_*. */
  readonly pod?: string;
}

const recordSchema = z.object({
  node: z.string().min(1),
  containerId: z.string().min(1),
  ifName: z.string().min(1),
  netns: z.string(),
  network: z.string(),
  pod: z.string().optional(),
  since: z.number(),
});
export type AllocationRecord = z.infer<typeof recordSchema>;

/** A stored allocation: its key, address, record (undefined when the value is not one) and revision. */
export interface StoredAllocation {
  readonly key: string;
  readonly ip: string;
  readonly record: AllocationRecord | undefined;
  readonly modRevision: number;
}

function decode(kv: KeyValue): StoredAllocation {
  const ip = kv.key.slice(kv.key.lastIndexOf("/") + 1);
  let record: AllocationRecord | undefined;
  try {
    const parsed = recordSchema.safeParse(JSON.parse(kv.value));
    record = parsed.success ? parsed.data : undefined;
  } catch {
    record = undefined;
  }
  return { key: kv.key, ip, record, modRevision: kv.modRevision };
}

const sameOwner = (r: AllocationRecord | undefined, o: { containerId: string; ifName: string }) =>
  r !== undefined && r.containerId === o.containerId && r.ifName === o.ifName;

const excluded = (ip: Ip, exclude: readonly Exclusion[]) =>
  exclude.some((e) => e.family === ip.family && ip.value >= e.first && ip.value <= e.last);

const ipConfig = (ip: string, range: IpRange): CniIpConfig => ({
  address: `${ip}/${range.prefix}`,
  gateway: formatIp(range.gateway),
});

async function poolOf(store: Datastore, subnet: string): Promise<StoredAllocation[]> {
  return (await store.list(poolPrefix(subnet))).items.map(decode);
}

/**
 * ADD: one address per range set, the lowest free one that no exclusion covers, or each
 * `requested` static address in the set that holds it. Idempotent: an owner that already holds an
 * address of a set gets it back. On failure what this call created is deleted again.
 */
export async function allocateFromPool(
  store: Datastore,
  config: ClusterIpamConfig,
  owner: ClusterOwner,
  requested: readonly string[],
  now: number,
): Promise<Allocation> {
  const wanted = requested.map((text) => {
    const addr = text.split("/")[0] ?? text;
    if (!ipaddr.isValid(addr))
      throw new CniError(
        CniErrorCode.InvalidNetworkConfig,
        `requested IP "${text}" is not an address`,
        "pass addresses like 10.60.0.5",
      );
    return parseIp(addr);
  });
  for (const w of wanted)
    if (!config.rangeSets.some((set) => rangeOf(set, w)))
      throw new CniError(
        CniErrorCode.InvalidNetworkConfig,
        `requested IP ${formatIp(w)} is in no configured range`,
        "request an address inside ipam.ranges",
      );
  const value = JSON.stringify({ ...owner, since: now } satisfies AllocationRecord);
  const created: string[] = [];
  const ips: CniIpConfig[] = [];
  try {
    for (const [index, set] of config.rangeSets.entries()) {
      const pools = new Map<string, StoredAllocation[]>();
      for (const r of set) pools.set(r.subnet, await poolOf(store, r.subnet));
      const held = [...pools.entries()].flatMap(([subnet, items]) =>
        items.filter((a) => sameOwner(a.record, owner)).map((a) => ({ subnet, a })),
      );
      const mine = held[0];
      if (mine) {
        ips.push(ipConfig(mine.a.ip, set.find((r) => r.subnet === mine.subnet) as IpRange));
        continue;
      }
      const request = wanted.find((w) => rangeOf(set, w));
      if (request) {
        const range = rangeOf(set, request) as IpRange;
        const ip = formatIp(request);
        const key = `${poolPrefix(range.subnet)}${ip}`;
        if (!(await store.create(key, value))) {
          const holder = decode(
            (await store.get(key)) ?? { key, value: "", modRevision: 0, createRevision: 0 },
          );
          throw new CniError(
            CniErrorCode.AddressPoolExhausted,
            `requested IP ${ip} is already allocated${holder.record ? ` to ${holder.record.pod ?? holder.record.containerId} on ${holder.record.node}` : ""}`,
            "request a free address or none",
          );
        }
        created.push(key);
        ips.push(ipConfig(ip, range));
        continue;
      }
      const taken = new Set([...pools.values()].flat().map((a) => a.ip));
      let got: { ip: string; range: IpRange } | undefined;
      for (const c of candidates(set)) {
        if (taken.has(c.ip) || excluded(parseIp(c.ip), config.exclude)) continue;
        const key = `${poolPrefix(c.range.subnet)}${c.ip}`;
        // Someone else may have taken it since the list: then it is theirs, try the next.
        if (await store.create(key, value)) {
          created.push(key);
          got = c;
          break;
        }
      }
      if (!got)
        throw new CniError(
          CniErrorCode.AddressPoolExhausted,
          `no free address in range set ${index} (${set.map((r) => r.subnet).join(", ")}) of the cluster pool`,
          "widen the range, shrink ipam.exclude, or delete pods / run `strata cluster-ipam gc` to free stranded addresses",
        );
      ips.push(ipConfig(got.ip, got.range));
    }
  } catch (err) {
    for (const key of created) await store.delete(key).catch(() => false);
    throw err;
  }
  return { ips, routes: config.routes.map((r) => ({ ...r })), ...(config.dns ? { dns: config.dns } : {}) };
}

/** Every allocation of the configured ranges. */
async function allocationsOf(store: Datastore, config: ClusterIpamConfig): Promise<StoredAllocation[]> {
  const out: StoredAllocation[] = [];
  for (const set of config.rangeSets) for (const r of set) out.push(...(await poolOf(store, r.subnet)));
  return out;
}

/** Delete an allocation only if nobody changed it since it was read (a re-allocation stays). */
const free = (store: Datastore, a: StoredAllocation) => store.deleteIf(a.key, a.modRevision);

/** DEL: free what containerId+ifName holds; succeeds when it holds nothing. Returns the freed addresses. */
export async function releaseFromPool(
  store: Datastore,
  config: ClusterIpamConfig,
  owner: { containerId: string; ifName: string },
): Promise<string[]> {
  const freed: string[] = [];
  for (const a of await allocationsOf(store, config))
    if (sameOwner(a.record, owner) && (await free(store, a))) freed.push(a.ip);
  return freed;
}

/** CHECK: the owner holds an address in every range set, and `expected` ones if given; else 103. */
export async function checkPool(
  store: Datastore,
  config: ClusterIpamConfig,
  owner: { containerId: string; ifName: string },
  expected?: readonly string[],
): Promise<void> {
  const mine = (await allocationsOf(store, config))
    .filter((a) => sameOwner(a.record, owner))
    .map((a) => a.ip);
  for (const [i, set] of config.rangeSets.entries())
    if (!mine.some((ip) => rangeOf(set, parseIp(ip))))
      throw new CniError(
        CniErrorCode.StateMismatch,
        `${owner.containerId}/${owner.ifName} holds no address of range set ${i} in the cluster pool`,
        "delete and re-add the pod",
      );
  for (const e of expected ?? []) {
    const ip = e.split("/")[0] ?? e;
    if (!mine.includes(ip))
      throw new CniError(
        CniErrorCode.StateMismatch,
        `the cluster pool does not record ${ip} for ${owner.containerId}/${owner.ifName}`,
        "delete and re-add the pod",
      );
  }
}

/** CNI GC: free this node's allocations of these ranges whose attachment the runtime no longer lists. */
export async function gcPool(
  store: Datastore,
  config: ClusterIpamConfig,
  node: string,
  valid: readonly { containerId: string; ifName: string }[],
): Promise<string[]> {
  const freed: string[] = [];
  for (const a of await allocationsOf(store, config)) {
    if (a.record?.node !== node || valid.some((v) => sameOwner(a.record, v))) continue;
    if (await free(store, a)) freed.push(a.ip);
  }
  return freed;
}

export interface StrandedOptions {
  /** The node running this pass: its own dead pods are recognised by their netns path. */
  readonly node: string;
  /** Nodes whose heartbeat is current. */
  readonly aliveNodes: ReadonlySet<string>;
  readonly netnsExists: (path: string) => Promise<boolean>;
  readonly now: number;
  /** How long a node must stay without heartbeat before its allocations are freed. */
  readonly graceMs: number;
}

export interface StrandedReport {
  readonly freed: readonly {
    readonly ip: string;
    readonly owner: AllocationRecord;
    readonly reason: string;
  }[];
  /** Nodes without heartbeat still within the grace period. */
  readonly suspects: readonly string[];
  /** Keys whose value is not an allocation record (left alone, reported). */
  readonly invalid: readonly string[];
}

/**
 * Free the addresses of pods that are gone, in every pool (the case Whereabouts' README admits:
 * a crashed node strands its addresses). A pod is gone when
 * - it was on this node and its network namespace (the CNI_NETNS recorded at ADD) no longer
 *   exists: the runtime removed the sandbox without a DEL reaching us; or
 * - its node has had no heartbeat for `graceMs`: the first pass that sees the heartbeat missing
 *   records the node as a suspect (create-if-absent, so every node agrees on one start time);
 *   a pass after the grace period frees the node's allocations, a heartbeat back clears the mark.
 * Each free is a delete-if-unchanged, so an address re-allocated meanwhile stays.
 */
export async function collectStranded(store: Datastore, opts: StrandedOptions): Promise<StrandedReport> {
  const all = (await store.list(poolsPrefix)).items.map(decode);
  const suspectKvs = (await store.list(suspectsPrefix)).items;
  const suspectSince = new Map<string, number>();
  for (const kv of suspectKvs) {
    const node = kv.key.slice(suspectsPrefix.length);
    if (opts.aliveNodes.has(node)) {
      await store.deleteIf(kv.key, kv.modRevision);
      continue;
    }
    const since = Number((JSON.parse(kv.value) as { since?: unknown }).since);
    suspectSince.set(node, Number.isFinite(since) ? since : opts.now);
  }
  const freed: { ip: string; owner: AllocationRecord; reason: string }[] = [];
  const invalid: string[] = [];
  const suspects = new Set<string>();
  for (const a of all) {
    const r = a.record;
    if (!r) {
      invalid.push(a.key);
      continue;
    }
    let reason: string | undefined;
    if (r.node === opts.node) {
      if (r.netns !== "" && !(await opts.netnsExists(r.netns))) reason = `its netns ${r.netns} is gone`;
    } else if (!opts.aliveNodes.has(r.node)) {
      let since = suspectSince.get(r.node);
      if (since === undefined) {
        await store.create(`${suspectsPrefix}${r.node}`, JSON.stringify({ since: opts.now }));
        const kv = await store.get(`${suspectsPrefix}${r.node}`);
        since = kv ? Number((JSON.parse(kv.value) as { since?: unknown }).since) : opts.now;
        suspectSince.set(r.node, since);
      }
      if (opts.now - since >= opts.graceMs)
        reason = `node ${r.node} has had no heartbeat for ${Math.round((opts.now - since) / 1000)} s`;
      else suspects.add(r.node);
    }
    if (reason && (await free(store, a))) freed.push({ ip: a.ip, owner: r, reason });
  }
  // A suspect whose addresses are all free has nothing left to collect: its mark goes.
  const holding = new Set(all.filter((a) => !freed.some((f) => f.ip === a.ip)).map((a) => a.record?.node));
  for (const kv of suspectKvs) {
    const node = kv.key.slice(suspectsPrefix.length);
    if (!opts.aliveNodes.has(node) && !holding.has(node)) await store.delete(kv.key);
  }
  return { freed, suspects: [...suspects].sort(), invalid };
}
