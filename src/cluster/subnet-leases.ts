import { StrataError } from "../common/errors.js";
import type { Datastore, KeyValue } from "../datastore/api.js";
import type { NodeLease } from "./node-lease.js";
import { pickSubnet } from "./subnet-pick.js";

export const subnetPrefix = "/strata/subnets/";
const keyOf = (subnet: string) => `${subnetPrefix}${subnet.replace("/", "-")}`;

export class LeaseError extends StrataError {
  constructor(message: string) {
    super("cluster.lease", message);
  }
}

export interface LeaseRequest {
  readonly node: string;
  readonly clusterCidr: string;
  readonly subnetLen: number;
  readonly publicIp: string;
  readonly publicPrefix: number;
  readonly backend: string;
  readonly backendData: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
}

export interface HeldLease {
  readonly lease: NodeLease;
  readonly leaseId: string;
}

const parse = (kv: KeyValue): NodeLease | undefined => {
  try {
    return JSON.parse(kv.value) as NodeLease;
  } catch {
    return undefined;
  }
};

/**
 * Flannel-style subnet leases in the datastore: one key per node subnet, attached to a datastore
 * lease with a TTL that the agent renews. A node that restarts finds its own key and keeps its
 * subnet; a dead node's key expires with its lease and its routes go away on every other node.
 */
export class SubnetLeases {
  constructor(private readonly store: Datastore) {}

  async acquire(req: LeaseRequest, preferred?: string): Promise<HeldLease> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { items } = await this.store.list(subnetPrefix);
      const leases = items.map((kv) => ({ kv, lease: parse(kv) }));
      const mine = leases.find((l) => l.lease?.node === req.node);
      const leaseId = await this.store.grantLease(req.ttlSeconds);
      const value = (subnet: string): NodeLease => ({
        node: req.node,
        subnet,
        publicIp: req.publicIp,
        publicPrefix: req.publicPrefix,
        backend: req.backend,
        backendData: req.backendData,
      });
      if (mine?.lease) {
        const lease = value(mine.lease.subnet);
        if (
          await this.store.update(mine.kv.key, JSON.stringify(lease), mine.kv.modRevision, { lease: leaseId })
        ) {
          return { lease, leaseId };
        }
      } else {
        const taken = new Set(leases.map((l) => l.lease?.subnet).filter((s): s is string => Boolean(s)));
        const subnet = pickSubnet(req.clusterCidr, req.subnetLen, taken, preferred);
        if (!subnet) throw new LeaseError(`no free /${req.subnetLen} left in ${req.clusterCidr}`);
        const lease = value(subnet);
        if (await this.store.create(keyOf(subnet), JSON.stringify(lease), { lease: leaseId }))
          return { lease, leaseId };
      }
      await this.store.revokeLease(leaseId); // lost a race: try again with fresh state
    }
    throw new LeaseError("could not acquire a subnet lease after 10 attempts (heavy contention?)");
  }

  /** Renew; when the lease was lost (e.g. a long datastore outage), acquire again, same subnet first. */
  async renew(held: HeldLease, req: LeaseRequest): Promise<HeldLease> {
    if (await this.store.keepAlive(held.leaseId)) return held;
    return this.acquire(req, held.lease.subnet);
  }

  async release(held: HeldLease): Promise<void> {
    await this.store.revokeLease(held.leaseId);
  }

  /** Every node's lease now, and the revision to watch from. */
  async snapshot(): Promise<{ leases: NodeLease[]; revision: number }> {
    const { items, revision } = await this.store.list(subnetPrefix);
    return { leases: items.map(parse).filter((l): l is NodeLease => l !== undefined), revision };
  }

  /** Full lease sets, each time one changes (watch events folded into a map; resync replaces it). */
  async *watch(signal: AbortSignal): AsyncIterable<NodeLease[]> {
    const snap = await this.store.list(subnetPrefix);
    const current = new Map(snap.items.map((kv) => [kv.key, kv]));
    const view = () => [...current.values()].map(parse).filter((l): l is NodeLease => l !== undefined);
    yield view();
    for await (const e of this.store.watch(subnetPrefix, snap.revision, signal)) {
      if (e.type === "put") current.set(e.kv.key, e.kv);
      else if (e.type === "delete") current.delete(e.key);
      else {
        current.clear();
        for (const kv of e.items) current.set(kv.key, kv);
      }
      yield view();
    }
  }
}
