import type { NodeLease } from "../../cluster/node-lease.js";

/** A lease's pod subnets: IPv4, and IPv6 on a dual-stack node. */
export const leasedSubnets = (p: NodeLease): string[] => (p.subnet6 ? [p.subnet, p.subnet6] : [p.subnet]);

const owners = new WeakMap<NodeLease, string>();

/** Who holds a leased subnet, as retention compares it: the node and its address (once per lease). */
export const leaseOwner = (p: NodeLease): string => {
  let o = owners.get(p);
  if (o === undefined) {
    o = `${p.node} ${p.publicIp}`;
    owners.set(p, o);
  }
  return o;
};

/**
 * Other nodes' leased subnets → their lease, followed from one lease list to the next by lease
 * identity (validation hands back the same object for an unchanged key): a change costs the
 * leases it adds and removes, and names the subnets whose holder may have changed. Built from
 * scratch (every subnet named: undefined) the first time, and whenever two leases share a subnet
 * (validation refuses that; the last in the list holds it then, as a rebuild says).
 */
export class LeasedSubnets {
  #byIdentity = new Set<NodeLease>();
  #leaseOf = new Map<string, NodeLease>();
  /** Two leases of the last list share a subnet: the next change rebuilds. */
  #shared = true;

  /** The lease that holds `subnet` (exactly as leased). */
  lease(subnet: string): NodeLease | undefined {
    return this.#leaseOf.get(subnet);
  }

  /** The holder of `subnet`, as leaseOwner gives it. */
  owner(subnet: string): string | undefined {
    const l = this.#leaseOf.get(subnet);
    return l && leaseOwner(l);
  }

  has(subnet: string): boolean {
    return this.#leaseOf.has(subnet);
  }

  /** Follow `peers`; the subnets whose holder may differ now, or undefined: any may (rebuilt). */
  update(peers: readonly NodeLease[]): Set<string> | undefined {
    const was = this.#byIdentity;
    const added = this.#shared ? [] : peers.filter((p) => !was.has(p));
    const now = new Set(peers);
    if (this.#shared || now.size !== peers.length) return this.#rebuild(peers, now);
    const touched = new Set<string>();
    if (was.size > now.size - added.length)
      for (const p of was) {
        if (now.has(p)) continue;
        for (const s of leasedSubnets(p)) {
          if (this.#leaseOf.get(s) !== p) return this.#rebuild(peers, now);
          this.#leaseOf.delete(s);
          touched.add(s);
        }
      }
    for (const p of added)
      for (const s of leasedSubnets(p)) {
        if (this.#leaseOf.has(s)) return this.#rebuild(peers, now);
        this.#leaseOf.set(s, p);
        touched.add(s);
      }
    this.#byIdentity = now;
    return touched;
  }

  #rebuild(peers: readonly NodeLease[], now: Set<NodeLease>): undefined {
    this.#byIdentity = now;
    this.#leaseOf = new Map();
    let subnets = 0;
    for (const p of peers)
      for (const s of leasedSubnets(p)) {
        this.#leaseOf.set(s, p);
        subnets++;
      }
    this.#shared = this.#leaseOf.size !== subnets || now.size !== peers.length;
    return undefined;
  }
}
