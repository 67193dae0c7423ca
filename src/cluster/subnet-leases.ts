import { StrataError } from "../common/errors.js";
import type { Datastore, KeyValue } from "../datastore/api.js";
import {
  type LeaseCheckMemo,
  type LeasePolicy,
  type RejectedLease,
  subnetKey,
  subnetPrefix,
  type ValidatedLeases,
  validateLeases,
} from "./lease-validation.js";
import type { NodeLease } from "./node-lease.js";
import { pickSubnet } from "./subnet-pick.js";

export { subnetPrefix };

export class LeaseError extends StrataError {
  constructor(message: string) {
    super("cluster.lease", message);
  }
}

export interface LeaseRequest {
  readonly node: string;
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

/** The validated view of every node's lease (what every consumer routes by), and what was rejected. */
export type LeaseView = ValidatedLeases;
export type { RejectedLease };

/** The subnet a key names ("/strata/subnets/10.244.1.0-24" → "10.244.1.0/24"), if it names one. */
function subnetOfKey(key: string): string | undefined {
  const m = /^(.+)-(\d{1,3})$/.exec(key.slice(subnetPrefix.length));
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * Flannel-style subnet leases in the datastore: one key per node subnet, attached to a datastore
 * lease with a TTL that the agent renews. A node that restarts finds its own key and keeps its
 * subnet; a dead node's key expires with its lease and its routes go away on every other node.
 */
export class SubnetLeases {
  constructor(
    private readonly store: Datastore,
    private readonly policy: LeasePolicy,
  ) {}

  readonly #memo: LeaseCheckMemo = new Map();

  #validate(items: readonly KeyValue[]): LeaseView {
    return validateLeases(items, this.policy, this.#memo);
  }

  async acquire(req: LeaseRequest, preferred?: string): Promise<HeldLease> {
    const { clusterCidr, subnetLen } = this.policy;
    for (let attempt = 0; attempt < 10; attempt++) {
      const { items } = await this.store.list(subnetPrefix);
      const valid = this.#validate(items).leases;
      // Only a valid lease with our name is ours: a malformed or losing one is never adopted.
      const mineLease = valid.find((l) => l.node === req.node);
      const mine = mineLease && {
        lease: mineLease,
        kv: items.find((kv) => kv.key === subnetKey(mineLease.subnet)) as KeyValue,
      };
      const leaseId = await this.store.grantLease(req.ttlSeconds);
      const value = (subnet: string): NodeLease => ({
        node: req.node,
        subnet,
        publicIp: req.publicIp,
        publicPrefix: req.publicPrefix,
        backend: req.backend,
        backendData: req.backendData,
      });
      if (mine) {
        const lease = value(mine.lease.subnet);
        if (
          await this.store.update(mine.kv.key, JSON.stringify(lease), mine.kv.modRevision, { lease: leaseId })
        ) {
          return { lease, leaseId };
        }
      } else {
        // Taken: every valid lease's subnet and every subnet a key names, whatever its value (a
        // garbage value at a key would otherwise make create() lose forever). The ranges of
        // rejected values are not honoured: every node ignores them, and one forged /16 must not
        // starve the cluster of subnets.
        const taken = new Set([
          ...valid.map((l) => l.subnet),
          ...items.map((kv) => subnetOfKey(kv.key)).filter((s): s is string => s !== undefined),
        ]);
        const subnet = pickSubnet(clusterCidr, subnetLen, taken, preferred);
        if (!subnet) throw new LeaseError(`no free /${subnetLen} left in ${clusterCidr}`);
        const lease = value(subnet);
        if (await this.store.create(subnetKey(subnet), JSON.stringify(lease), { lease: leaseId }))
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

  /** Every node's valid lease now (and the rejected ones), and the revision to watch from. */
  async snapshot(): Promise<LeaseView & { revision: number }> {
    const { items, revision } = await this.store.list(subnetPrefix);
    return { ...this.#validate(items), revision };
  }

  /**
   * The validated lease set, each time a lease changes (watch events folded into a map; resync
   * replaces it). Validation runs over the whole set, so a conflict resolves when its winner goes.
   */
  async *watch(signal: AbortSignal): AsyncIterable<LeaseView> {
    const snap = await this.store.list(subnetPrefix);
    const current = new Map(snap.items.map((kv) => [kv.key, kv]));
    const view = () => this.#validate([...current.values()]);
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
