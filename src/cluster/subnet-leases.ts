import { overlaps } from "../common/cidr.js";
import { StrataError } from "../common/errors.js";
import type { Datastore, KeyValue } from "../datastore/api.js";
import {
  checkPodSubnet,
  checkSubnet6,
  type LeaseCheckMemo,
  type LeasePolicy,
  type RejectedLease,
  subnetKey,
  subnetPrefix,
  type ValidatedLeases,
  validateLeases,
} from "./lease-validation.js";
import { leaseValue, type NodeLease } from "./node-lease.js";
import { pickSubnet, pickSubnetSpread } from "./subnet-pick.js";

export { subnetPrefix };

export class LeaseError extends StrataError {
  constructor(message: string, code = "cluster.lease") {
    super(code, message);
  }
}

/**
 * The subnet this node had (its pods hold addresses from it) now belongs to someone else, or the
 * datastore and the state directory disagree: the agent refuses to start rather than take another
 * subnet under live pods.
 */
export class SubnetTakenError extends LeaseError {
  constructor(message: string) {
    super(message, "cluster.subnet-taken");
  }
}

/** Where a node's previous subnet came from (its state directory's subnet.json). */
export interface PreviousSubnet {
  readonly subnet: string;
  /** Dual stack: the IPv6 subnet it had (its pods hold addresses from it too). */
  readonly subnet6?: string;
  /** For messages: the file it was read from. */
  readonly source: string;
}

export interface LeaseRequest {
  readonly node: string;
  readonly publicIp: string;
  readonly publicPrefix: number;
  /** Dual stack: the node's global IPv6 underlay address (a lease gets subnet6 only with one). */
  readonly publicIp6?: string;
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

/** After a lost race a node picks one of this many lowest free subnets at random. */
const spreadAmong = 64;

/** The subnet a key names ("/strata/subnets/10.244.1.0-24" → "10.244.1.0/24"), if it names one. */
function subnetOfKey(key: string): string | undefined {
  const m = /^(.+)-(\d{1,3})$/.exec(key.slice(subnetPrefix.length));
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** A string field of a stored value ("node", "subnet6"), whatever else is wrong with it. */
function namedField(value: string, field: "node" | "subnet6"): string | undefined {
  try {
    const v = (JSON.parse(value) as Record<string, unknown>)[field];
    return typeof v === "string" ? v.slice(0, 253) : undefined;
  } catch {
    return undefined;
  }
}

/** The `node` a stored value names, whatever else is wrong with it. */
const namedNode = (value: string): string | undefined => namedField(value, "node");

/**
 * Flannel-style subnet leases in the datastore: one key per node subnet, attached to a long
 * datastore lease (ownership: hours, renewed well before expiry). A node that restarts finds its
 * own key, or the subnet its state directory names, and keeps its subnet; a node's routes go away
 * on every other node only when it is removed (`removeNode`) or its long lease expires. Whether
 * the node's agent is alive is a separate, short heartbeat (heartbeats.ts).
 */
export class SubnetLeases {
  /**
   * `random` spreads the picks after a lost race (pickSubnetSpread); a test that wants the lowest
   * free subnet passes () => 0.
   */
  constructor(
    private readonly store: Datastore,
    private readonly policy: LeasePolicy,
    private readonly random: () => number = Math.random,
  ) {}

  readonly #memo: LeaseCheckMemo = new Map();

  #validate(items: readonly KeyValue[]): LeaseView {
    return validateLeases(items, this.policy, this.#memo);
  }

  /**
   * Take this node's subnet: its own valid lease in the datastore (a restart), else the subnet it
   * had before (`previous`, from its state directory) when that is still free, else a new one.
   * Refuses (SubnetTakenError, nothing written) when the previous subnet now belongs to another
   * node, or the datastore leases this node a different subnet: its pods hold addresses from it.
   */
  async acquire(req: LeaseRequest, previous?: PreviousSubnet): Promise<HeldLease> {
    const { clusterCidr, subnetLen } = this.policy;
    for (let attempt = 0; attempt < 10; attempt++) {
      const { items } = await this.store.list(subnetPrefix);
      const valid = this.#validate(items).leases;
      // Only a valid lease with our name is ours: a malformed or losing one is never adopted
      // (unless it sits at the very subnet our state directory says we had: #takeBack).
      const mine = valid.find((l) => l.node === req.node);
      let target: { key: string; expected?: number; subnet: string };
      if (mine) {
        if (previous && previous.subnet !== mine.subnet)
          throw new SubnetTakenError(
            `the datastore leases ${mine.subnet} to node ${req.node}, but ${previous.source} says this node had ${previous.subnet} (its pods hold addresses from it); refusing to start rather than renumber: remove the node's pods and ${previous.source}, or run \`strata node remove ${req.node}\``,
          );
        const kv = items.find((x) => x.key === subnetKey(mine.subnet)) as KeyValue;
        target = { key: kv.key, expected: kv.modRevision, subnet: mine.subnet };
      } else if (previous) {
        target = this.#takeBack(req.node, previous, items, valid);
      } else {
        // Taken: every valid lease's subnet and every subnet a key names, whatever its value (a
        // garbage value at a key would otherwise make create() lose forever). The ranges of
        // rejected values are not honoured: every node ignores them, and one forged /16 must not
        // starve the cluster of subnets.
        const taken = new Set([
          ...valid.map((l) => l.subnet),
          ...items.map((kv) => subnetOfKey(kv.key)).filter((s): s is string => s !== undefined),
        ]);
        // The lowest free subnet first (predictable numbering); after a lost race, one of the
        // lowest free ones at random, so the nodes that start together stop colliding.
        const subnet =
          attempt === 0
            ? pickSubnet(clusterCidr, subnetLen, taken)
            : pickSubnetSpread(clusterCidr, subnetLen, taken, spreadAmong, this.random);
        if (!subnet) throw new LeaseError(`no free /${subnetLen} left in ${clusterCidr}`);
        target = { key: subnetKey(subnet), subnet };
      }
      const six = this.#chooseSubnet6(req, previous, mine, items, valid);
      // Every check before the lease is granted: a refused start leaves nothing in the datastore.
      const leaseId = await this.store.grantLease(req.ttlSeconds);
      const lease: NodeLease = {
        node: req.node,
        subnet: target.subnet,
        publicIp: req.publicIp,
        publicPrefix: req.publicPrefix,
        ...(six && req.publicIp6 ? { subnet6: six.subnet6, publicIp6: req.publicIp6 } : {}),
        backend: req.backend,
        backendData: req.backendData,
      };
      const text = leaseValue(lease);
      const won =
        target.expected === undefined
          ? await this.store.create(target.key, text, { lease: leaseId })
          : await this.store.update(target.key, text, target.expected, { lease: leaseId });
      if (won) return six?.fresh ? this.#confirmSubnet6({ lease, leaseId }) : { lease, leaseId };
      await this.store.revokeLease(leaseId); // lost a race: try again with fresh state
    }
    throw new LeaseError("could not acquire a subnet lease after 10 attempts (heavy contention?)");
  }

  /**
   * Dual stack: the IPv6 subnet for this node's lease. The one it had (its datastore lease's, or
   * its state directory's) is kept — refused with a SubnetTakenError if another node holds it
   * now — else the lowest one no stored value names (`fresh`). undefined: an IPv4-only cluster,
   * or a node without an IPv6 address.
   */
  #chooseSubnet6(
    req: LeaseRequest,
    previous: PreviousSubnet | undefined,
    mine: NodeLease | undefined,
    items: readonly KeyValue[],
    valid: readonly NodeLease[],
  ): { subnet6: string; fresh: boolean } | undefined {
    const { clusterCidr6, subnetLen6 } = this.policy;
    if (!clusterCidr6 || subnetLen6 === undefined || !req.publicIp6) return undefined;
    const source = previous?.source ?? "the datastore";
    if (mine?.subnet6 && previous?.subnet6 && mine.subnet6 !== previous.subnet6)
      throw new SubnetTakenError(
        `the datastore leases IPv6 subnet ${mine.subnet6} to node ${req.node}, but ${source} says this node had ${previous.subnet6}; refusing to start rather than renumber its pods`,
      );
    const had = mine?.subnet6 ?? previous?.subnet6;
    if (had) {
      const refuse = (why: string) =>
        new SubnetTakenError(
          `IPv6 subnet ${had} (this node's before, from ${source}) ${why}; refusing to start rather than renumber under this node's pods: remove its pods and ${source} to take a new subnet`,
        );
      const own = checkSubnet6(had, this.policy);
      if (own) throw refuse(`cannot be leased here: ${own.detail}`);
      const holder = valid.find((l) => l.node !== req.node && l.subnet6 === had);
      if (holder) throw refuse(`now belongs to node ${holder.node} (${holder.publicIp6})`);
      return { subnet6: had, fresh: false };
    }
    return { subnet6: this.#freeSubnet6(clusterCidr6, subnetLen6, items, req.node, false), fresh: true };
  }

  /**
   * An IPv6 subnet no stored value (valid or not) other than this node's names: the lowest, or
   * after a lost race (`spread`) one of the lowest at random, as acquire() picks the IPv4 one.
   */
  #freeSubnet6(
    clusterCidr6: string,
    subnetLen6: number,
    items: readonly KeyValue[],
    node: string,
    spread: boolean,
  ): string {
    const taken = new Set(
      items.flatMap((kv) => {
        const s = namedField(kv.value, "subnet6");
        return s !== undefined && namedNode(kv.value) !== node ? [s] : [];
      }),
    );
    const subnet6 = spread
      ? pickSubnetSpread(clusterCidr6, subnetLen6, taken, spreadAmong, this.random)
      : pickSubnet(clusterCidr6, subnetLen6, taken);
    if (!subnet6) throw new LeaseError(`no free /${subnetLen6} left in ${clusterCidr6}`);
    return subnet6;
  }

  /**
   * A fresh IPv6 subnet is claimed by the lease that names it first (validation: the older lease
   * wins), and its key is the IPv4 subnet's: two nodes that picked the same one at once find out
   * only after writing. The loser (no pod has an address from it yet) picks the next free one,
   * compare-and-swap on its own key. So does a winner by age whose write came after another
   * lease already named the subnet: an old lease upgraded to dual stack must not take the IPv6
   * subnet a new node picked (and may have given pods addresses from) between our read and our
   * write — the fresh pick, which no pod uses yet, is the one that moves.
   */
  async #confirmSubnet6(held: HeldLease): Promise<HeldLease> {
    const key = subnetKey(held.lease.subnet);
    let current = held;
    for (let attempt = 0; attempt < 5; attempt++) {
      const { items } = await this.store.list(subnetPrefix);
      const lost = this.#validate(items).rejected.find((r) => r.key === key);
      const winner = lost?.winner ? items.find((kv) => kv.key === lost.winner) : undefined;
      const ours = items.find((kv) => kv.key === key);
      if (!ours) return current;
      const six = current.lease.subnet6;
      const beatenByAge = winner !== undefined && namedField(winner.value, "subnet6") === six;
      const namedBefore = items.some(
        (kv) =>
          kv.key !== key &&
          kv.modRevision < ours.modRevision &&
          namedField(kv.value, "subnet6") === six &&
          namedNode(kv.value) !== held.lease.node,
      );
      if (!beatenByAge && !namedBefore) return current;
      const { clusterCidr6 = "", subnetLen6 = 64 } = this.policy;
      const subnet6 = this.#freeSubnet6(clusterCidr6, subnetLen6, items, held.lease.node, true);
      const lease: NodeLease = { ...current.lease, subnet6 };
      if (await this.store.update(key, leaseValue(lease), ours.modRevision, { lease: held.leaseId }))
        current = { lease, leaseId: held.leaseId };
    }
    return current;
  }

  /** The previous subnet if it is still this node's to take; else a SubnetTakenError naming who has it. */
  #takeBack(
    node: string,
    previous: PreviousSubnet,
    items: readonly KeyValue[],
    valid: readonly NodeLease[],
  ): { key: string; expected?: number; subnet: string } {
    const { subnet, source } = previous;
    const key = subnetKey(subnet);
    const refuse = (why: string) =>
      new SubnetTakenError(
        `subnet ${subnet} (this node's before, from ${source}) ${why}; refusing to start rather than renumber under this node's pods: remove its pods and ${source} to take a new subnet`,
      );
    const own = checkPodSubnet(subnet, this.policy);
    if (own) throw refuse(`cannot be leased here: ${own.detail}`);
    const holder = valid.find((l) => overlaps(l.subnet, subnet));
    if (holder) throw refuse(`now belongs to node ${holder.node} (${holder.publicIp})`);
    const kv = items.find((x) => x.key === key);
    if (!kv) return { key, subnet };
    // A key at our subnet with our name that failed validation (an older agent's value, say): it
    // is ours by name and place, so it is rewritten; anything else there is not ours.
    const named = namedNode(kv.value);
    if (named === node) return { key, expected: kv.modRevision, subnet };
    throw refuse(`is held by an invalid lease at ${key}${named ? ` naming node ${named}` : ""}`);
  }

  /**
   * Keep the lease. When it was lost (the datastore unreachable longer than the TTL, say), take
   * the same subnet back if it is still free, never another one (pods hold its addresses): a
   * SubnetTakenError says who has it now.
   */
  async renew(held: HeldLease, req: LeaseRequest): Promise<HeldLease> {
    if (await this.store.keepAlive(held.leaseId)) return held;
    return this.acquire(req, {
      subnet: held.lease.subnet,
      ...(held.lease.subnet6 ? { subnet6: held.lease.subnet6 } : {}),
      source: "the lease this agent held",
    });
  }

  /**
   * Write this node's lease again with new data (a rotated WireGuard key), under the same
   * datastore lease and only if the key still holds this node's lease (compare-and-swap): a
   * lease that is gone or taken is a SubnetTakenError, and nothing is written.
   */
  async republish(held: HeldLease, req: LeaseRequest): Promise<HeldLease> {
    const key = subnetKey(held.lease.subnet);
    for (let attempt = 0; attempt < 5; attempt++) {
      const kv = await this.store.get(key);
      if (!kv || namedNode(kv.value) !== req.node)
        throw new SubnetTakenError(
          `this node's lease ${key} is gone or no longer names ${req.node}: not republished`,
        );
      const lease: NodeLease = {
        ...held.lease,
        publicIp: req.publicIp,
        publicPrefix: req.publicPrefix,
        ...(held.lease.subnet6 && req.publicIp6 ? { publicIp6: req.publicIp6 } : {}),
        backend: req.backend,
        backendData: req.backendData,
      };
      if (await this.store.update(key, leaseValue(lease), kv.modRevision, { lease: held.leaseId }))
        return { lease, leaseId: held.leaseId };
    }
    throw new LeaseError(`could not republish ${key} after 5 attempts (heavy contention?)`);
  }

  async release(held: HeldLease): Promise<void> {
    await this.store.revokeLease(held.leaseId);
  }

  /**
   * `strata node remove`: delete every subnet key whose value names `node` (valid or not), so
   * every other node withdraws its routes. Returns the keys removed.
   */
  async removeNode(node: string): Promise<string[]> {
    const { items } = await this.store.list(subnetPrefix);
    const removed: string[] = [];
    for (const kv of items) {
      if (namedNode(kv.value) === node && (await this.store.deleteIf(kv.key, kv.modRevision)))
        removed.push(kv.key);
    }
    return removed;
  }

  /** The names of the nodes that hold a subnet key (valid or not): who is in the cluster. */
  async nodeNames(): Promise<Set<string>> {
    const { items } = await this.store.list(subnetPrefix);
    return new Set(items.flatMap((kv) => namedNode(kv.value) ?? []));
  }

  /** Every node's valid lease now (and the rejected ones), and the revision to watch from. */
  async snapshot(): Promise<LeaseView & { revision: number }> {
    const { items, revision } = await this.store.list(subnetPrefix);
    return { ...this.#validate(items), revision };
  }

  /**
   * The validated lease set, each time a lease changes (watch events folded into a map; resync
   * replaces it). Validation runs over the whole set, so a conflict resolves when its winner goes.
   * A view is validated only when it is read: a burst of a thousand events costs one validation
   * per reconcile pass that reads the newest view, not one per event.
   */
  async *watch(signal: AbortSignal): AsyncIterable<LeaseView> {
    const snap = await this.store.list(subnetPrefix);
    const current = new Map(snap.items.map((kv) => [kv.key, kv]));
    const view = (): LeaseView => {
      const items = [...current.values()];
      let checked: LeaseView | undefined;
      const get = () => {
        checked ??= this.#validate(items);
        return checked;
      };
      return {
        get leases() {
          return get().leases;
        },
        get rejected() {
          return get().rejected;
        },
      };
    };
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
