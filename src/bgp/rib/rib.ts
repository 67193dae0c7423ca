import type { PathAttributes, UpdateMessage } from "../codec/types.js";
import { AttributeSets } from "./attribute-sets.js";
import { bestPath } from "./decision.js";
import { acceptAll, type ImportPolicy } from "./import-policy.js";
import type { Path, PeerInfo } from "./path.js";
import { exportAttributes, isReflectionLoop, type LocalSpeaker, shouldAdvertise } from "./reflection.js";

/**
 * Which routes (prefix, the peer it came from) a new import policy may judge differently from the
 * old one: Rib.setImportPolicy runs only those through it again.
 */
export type ImportScope = (prefix: string, from: PeerInfo) => boolean;

/** A change of the best path for a prefix (what the kernel and Adj-RIBs-Out must follow). */
export type BestChange =
  | { readonly kind: "best"; readonly prefix: string; readonly path: Path }
  | { readonly kind: "gone"; readonly prefix: string };

/** A route import policy refused: kept in the Adj-RIB-In (so a policy change can admit it), never in the Loc-RIB. */
export interface RejectedRoute {
  readonly path: Path;
  readonly reason: string;
}

/**
 * Adj-RIB-In per peer, Loc-RIB by the decision process, and what each peer must be sent
 * (RFC 4271 §3.2, §9). Pure data structure: updates in, changes out; the speaker does the I/O.
 * Import policy sits between the two (§9.1 Phase 1): a refused route is a filter outcome, never a
 * session reset — it stays out of the Loc-RIB (so out of the kernel and of every Adj-RIB-Out) and
 * is counted per peer.
 */
export class Rib {
  /**
   * prefix → its candidates: the one path itself while there is one (most prefixes: one source),
   * or every source's path with the best among them — no per-prefix map until a second one comes.
   */
  readonly #entries = new Map<string, Path | Candidates>();
  #size = 0;
  readonly #counts = new Map<string, number>();
  /** peer id → prefix → a route the import policy refused. */
  readonly #rejected = new Map<string, Map<string, RejectedRoute>>();
  /** Every learned route's attributes are one shared object per distinct set. */
  readonly #attributeSets = new AttributeSets();
  /** One Path per peer (session) and attribute set, shared by every prefix announced with them. */
  readonly #paths = new WeakMap<PeerInfo, WeakMap<PathAttributes, Path>>();
  #policy: ImportPolicy = acceptAll;
  /**
   * peer id → prefixes of its routes kept stale after its session dropped (RFC 4724 §4.2): they
   * stay candidates (installed, exported) until the peer announces or withdraws them again, or
   * the speaker sweeps what is left.
   */
  readonly #stale = new Map<string, Set<string>>();
  /** What the import policy refused in the last receive(), in order (for counters and events). */
  refusedByLastReceive: { readonly prefix: string; readonly reason: string }[] = [];

  constructor(private readonly local: LocalSpeaker) {}

  get size(): number {
    return this.#size;
  }

  best(prefix: string): Path | undefined {
    const e = this.#entries.get(prefix);
    return e instanceof Candidates ? e.best : e;
  }

  /** Distinct attribute sets the learned routes hold (shared objects, however many routes). */
  get attributeSets(): number {
    return this.#attributeSets.size;
  }

  /** Originate (or withdraw, with undefined) a local route. */
  originate(prefix: string, attributes: PathAttributes | undefined): BestChange[] {
    return this.#set(prefix, "", attributes && { attributes });
  }

  /** Apply a received UPDATE from `peer` (treat-as-withdraw outcomes withdraw its NLRI too). */
  receive(peer: PeerInfo, u: UpdateMessage): BestChange[] {
    const changes: BestChange[] = [];
    this.refusedByLastReceive = [];
    const withdrawAll = u.outcomes?.some((o) => o.action === "treat-as-withdraw") ?? false;
    const loop = isReflectionLoop(this.local, u.attributes) || this.#asLoop(peer, u.attributes);
    const mpReach = u.attributes.mpReach?.nlri;
    const mpUnreach = u.attributes.mpUnreach?.withdrawn;
    const reach = mpReach?.length ? [...u.nlri, ...mpReach] : u.nlri;
    // One Path for every prefix of the UPDATE (none: its routes are withdrawn, RFC 7606 / a loop).
    const path = reach.length > 0 && !withdrawAll && !loop ? this.#pathOf(peer, u.attributes) : undefined;
    const stale = this.#stale.get(peer.id);
    const rejected = this.#rejected.get(peer.id);
    for (const p of mpUnreach?.length ? [...u.withdrawn, ...mpUnreach] : u.withdrawn) {
      stale?.delete(p);
      rejected?.delete(p);
      this.#set(p, peer.id, undefined, changes);
    }
    for (const p of reach) {
      stale?.delete(p);
      this.#admit(peer.id, p, path, changes);
      const refused = path && this.#rejected.get(peer.id)?.get(p);
      if (refused && refused.path === path)
        this.refusedByLastReceive.push({ prefix: p, reason: refused.reason });
    }
    return changes;
  }

  /**
   * Replace the import policy and run it again over every Adj-RIB-In (soft reconfiguration,
   * RFC 4271 §9.1 — routes are not asked for again): newly refused routes leave the Loc-RIB,
   * newly allowed ones enter it.
   *
   * `scope`: the caller knows the new policy judges every other route as the old one did (same
   * verdict, same reason), so only the routes it selects run through it again — a change that
   * touches a few prefixes costs those, not the whole table.
   */
  setImportPolicy(policy: ImportPolicy, scope?: ImportScope): BestChange[] {
    this.#policy = policy;
    const learned: [string, Path][] = [];
    for (const [prefix, e] of this.#entries) {
      if (!(e instanceof Candidates)) {
        if (e.from && (!scope || scope(prefix, e.from))) learned.push([prefix, e]);
      } else
        for (const [id, p] of e.paths)
          if (id !== "" && p.from && (!scope || scope(prefix, p.from))) learned.push([prefix, p]);
    }
    for (const rejected of this.#rejected.values())
      for (const [prefix, r] of rejected)
        if (r.path.from && (!scope || scope(prefix, r.path.from))) learned.push([prefix, r.path]);
    const changes: BestChange[] = [];
    for (const [prefix, p] of learned) if (p.from) this.#admit(p.from.id, prefix, p, changes);
    return changes;
  }

  /** Routes of `peerId` the import policy refused, by prefix (what /healthz shows and counts). */
  rejected(peerId: string): ReadonlyMap<string, RejectedRoute> {
    return this.#rejected.get(peerId) ?? noneRejected;
  }

  /** How many prefixes `peerId` currently has in the Adj-RIB-In (for max-prefix limits). */
  prefixCount(peerId: string): number {
    return this.#counts.get(peerId) ?? 0;
  }

  /** Every prefix with a best path, and that path. */
  *bestPaths(): IterableIterator<[string, Path]> {
    for (const [prefix, e] of this.#entries) {
      const best = e instanceof Candidates ? e.best : e;
      if (best) yield [prefix, best];
    }
  }

  /**
   * Keep `peerId`'s routes whose prefix `which` selects as stale (its session dropped and it may be
   * restarting, RFC 4724 §4.2): nothing changes in the Loc-RIB; returns how many are stale now.
   */
  markStale(peerId: string, which: (prefix: string) => boolean = () => true): number {
    const stale = this.#stale.get(peerId) ?? new Set<string>();
    for (const prefix of this.#prefixesOf(peerId)) if (which(prefix)) stale.add(prefix);
    if (stale.size > 0) this.#stale.set(peerId, stale);
    return stale.size;
  }

  /** Routes of `peerId` still stale (kept from before its session dropped, not announced since). */
  staleCount(peerId: string): number {
    return this.#stale.get(peerId)?.size ?? 0;
  }

  /**
   * Remove `peerId`'s routes still stale among those `which` selects (its End-of-RIB came, its
   * restart time ran out, or the new session does not keep the family's forwarding state).
   */
  sweepStale(peerId: string, which: (prefix: string) => boolean = () => true): BestChange[] {
    const stale = this.#stale.get(peerId);
    const changes: BestChange[] = [];
    if (!stale) return changes;
    for (const prefix of [...stale]) {
      if (!which(prefix)) continue;
      stale.delete(prefix);
      this.#rejected.get(peerId)?.delete(prefix);
      this.#set(prefix, peerId, undefined, changes);
    }
    if (stale.size === 0) this.#stale.delete(peerId);
    return changes;
  }

  /** Every prefix `peerId` has in its Adj-RIB-In, admitted or refused. */
  *#prefixesOf(peerId: string): IterableIterator<string> {
    for (const [prefix, e] of this.#entries) {
      if (e instanceof Candidates ? e.paths.has(peerId) : sourceOf(e) === peerId) yield prefix;
    }
    yield* this.#rejected.get(peerId)?.keys() ?? [];
  }

  /** Every path learned from `peer` goes (session down). */
  dropPeer(peerId: string): BestChange[] {
    this.#stale.delete(peerId);
    this.#rejected.delete(peerId);
    const changes: BestChange[] = [];
    if (!this.#counts.get(peerId)) return changes;
    // No copy of the table: #set only deletes this entry or replaces it (a Map iterates on safely).
    for (const [prefix, e] of this.#entries) {
      const has = e instanceof Candidates ? e.paths.has(peerId) : sourceOf(e) === peerId;
      if (has) this.#set(prefix, peerId, undefined, changes);
    }
    return changes;
  }

  /** The UPDATE content `to` should get for these changes (announcements and withdrawals). */
  exportTo(
    to: PeerInfo,
    changes: readonly BestChange[],
  ): { announce: { prefix: string; attributes: PathAttributes }[]; withdraw: string[] } {
    const announce: { prefix: string; attributes: PathAttributes }[] = [];
    const withdraw: string[] = [];
    for (const c of changes) {
      if (c.kind === "best" && shouldAdvertise(this.local, c.path, to)) {
        announce.push({ prefix: c.prefix, attributes: exportAttributes(this.local, c.path, to) });
      } else {
        withdraw.push(c.prefix);
      }
    }
    return { announce, withdraw };
  }

  /**
   * The Path of every prefix `peer` announces with these attributes: one object per session and
   * attribute set (the attributes hash-consed), not one per route — 48 bytes less per route, and
   * the same announcement again is no change.
   */
  #pathOf(peer: PeerInfo, received: PathAttributes): Path {
    const attributes = this.#attributeSets.intern(received);
    let byAttributes = this.#paths.get(peer);
    if (!byAttributes) {
      byAttributes = new WeakMap();
      this.#paths.set(peer, byAttributes);
    }
    let path = byAttributes.get(attributes);
    if (!path) {
      path = Object.freeze({ attributes, from: peer });
      byAttributes.set(attributes, path);
    }
    return path;
  }

  /** eBGP loop check (RFC 4271 §9.1.2): our own AS in a path from outside. */
  #asLoop(peer: PeerInfo, a: PathAttributes): boolean {
    return !peer.ibgp && (a.asPath ?? []).some((s) => s.asns.includes(this.local.asn));
  }

  /** A received route through the import policy: into the candidates, or into the refused set. */
  #admit(peerId: string, prefix: string, path: Path | undefined, out: BestChange[] = []): BestChange[] {
    const reason = path?.from && this.#policy(path.from, prefix, path.attributes);
    if (path && reason) {
      const refused = this.#rejected.get(peerId) ?? new Map<string, RejectedRoute>();
      this.#rejected.set(peerId, refused.set(prefix, { path, reason }));
      return this.#set(prefix, peerId, undefined, out);
    }
    this.#rejected.get(peerId)?.delete(prefix);
    return this.#set(prefix, peerId, path, out);
  }

  /** Put `source`'s path for `prefix` (undefined: withdraw it); a change of the best is pushed to `out`. */
  #set(prefix: string, source: string, path: Path | undefined, out: BestChange[] = []): BestChange[] {
    const entry = this.#entries.get(prefix);
    // The same path again, or a withdrawal of nothing (a policy re-run over an unchanged route):
    // nothing changes, and the decision process need not run again.
    const held =
      entry instanceof Candidates
        ? entry.paths.get(source)
        : entry && sourceOf(entry) === source
          ? entry
          : undefined;
    if (held === path) return out;
    const before = entry instanceof Candidates ? entry.best : entry;
    let had: boolean;
    let best: Path | undefined;
    if (entry === undefined || !(entry instanceof Candidates)) {
      had = entry !== undefined && sourceOf(entry) === source;
      if (entry === undefined || had) {
        // No other source: the path alone is the entry (and the best).
        if (path) this.#entries.set(prefix, path);
        else this.#entries.delete(prefix);
        best = path;
      } else if (path) {
        const c = new Candidates();
        c.paths.set(sourceOf(entry), entry).set(source, path);
        c.best = bestPath([...c.paths.values()]).best;
        this.#entries.set(prefix, c);
        best = c.best;
      } else {
        best = entry; // withdrawing what this source never sent
      }
    } else {
      had = entry.paths.has(source);
      if (path) entry.paths.set(source, path);
      else entry.paths.delete(source);
      if (entry.paths.size === 1) {
        best = entry.paths.values().next().value as Path;
        this.#entries.set(prefix, best);
      } else {
        best = entry.best = bestPath([...entry.paths.values()]).best;
      }
    }
    const has = path !== undefined;
    if (had !== has) this.#counts.set(source, (this.#counts.get(source) ?? 0) + (had ? -1 : 1));
    if ((before === undefined) !== (best === undefined)) this.#size += best ? 1 : -1;
    if (best === before) return out;
    out.push(best ? { kind: "best", prefix, path: best } : { kind: "gone", prefix });
    return out;
  }
}

const noneRejected: ReadonlyMap<string, RejectedRoute> = new Map();

const sourceOf = (p: Path): string => p.from?.id ?? "";

/** A prefix with paths from more than one source, and the best of them (RFC 4271 §9.1.2). */
class Candidates {
  readonly paths = new Map<string, Path>();
  best: Path | undefined;
}
