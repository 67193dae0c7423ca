import type { PathAttributes } from "../codec/types.js";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * One text per distinct attribute set, in a fixed order whatever order the fields were built in.
 * MP_REACH_NLRI counts by its family and next hops only (its NLRI are routes, not attributes);
 * MP_UNREACH_NLRI is not an attribute of any route.
 */
export function attributesKey(a: PathAttributes): string {
  return JSON.stringify([
    a.origin,
    a.asPath,
    a.as4Path,
    a.nextHop,
    a.med,
    a.localPref,
    a.atomicAggregate,
    a.aggregator,
    a.as4Aggregator,
    a.communities,
    a.originatorId,
    a.clusterList,
    a.mpReach && [a.mpReach.afi, a.mpReach.safi, a.mpReach.nextHops],
    a.unknown?.map((u) => [u.flags, u.code, hex(u.data)]),
  ]);
}

/** The attributes of a route, without the NLRI an UPDATE carried beside them. */
function routeAttributes(a: PathAttributes): PathAttributes {
  if (a.mpUnreach === undefined && (a.mpReach === undefined || a.mpReach.nlri.length === 0)) return a;
  const { mpUnreach: _u, mpReach, ...rest } = a;
  return mpReach ? { ...rest, mpReach: { ...mpReach, nlri: [] } } : rest;
}

/**
 * Hash-consed attribute sets (BIRD's rta cache, FRR's attr hash): every route with the same
 * attributes holds one shared, frozen object, however many UPDATEs brought them — so a table of
 * 100,000 routes from 100 peers holds about 100 attribute objects, and routes that share one can be
 * grouped by identity when they go out again. Sets no route holds any more are forgotten (weakly
 * held): the table never grows with churn.
 */
export class AttributeSets {
  readonly #byKey = new Map<string, WeakRef<PathAttributes>>();
  /** Objects already interned or looked up: a repeat (a decoder's cached result) costs no key. */
  readonly #seen = new WeakMap<PathAttributes, PathAttributes>();
  readonly #forget = new FinalizationRegistry<string>((key) => {
    if (this.#byKey.get(key)?.deref() === undefined) this.#byKey.delete(key);
  });

  /** The shared object equal to `a` (made from `a` when it is the first of its kind). */
  intern(a: PathAttributes): PathAttributes {
    const known = this.#seen.get(a);
    if (known) return known;
    const key = attributesKey(a);
    let shared = this.#byKey.get(key)?.deref();
    if (!shared) {
      shared = Object.freeze(routeAttributes(a));
      this.#byKey.set(key, new WeakRef(shared));
      this.#forget.register(shared, key);
      this.#seen.set(shared, shared);
    }
    this.#seen.set(a, shared);
    return shared;
  }

  /** Distinct sets held now (some may be waiting for the collector). */
  get size(): number {
    return this.#byKey.size;
  }
}
