import type { Prefix } from "../codec/prefix.js";
import type { PathAttributes } from "../codec/types.js";
import type { Path, PeerInfo } from "./path.js";
import { type LocalSpeaker, shouldAdvertise } from "./reflection.js";

/**
 * Prefixes that leave together: one attribute set (a hash-consed object, rib/attribute-sets.ts)
 * learned from one source, so every peer that gets them gets them with the same exported
 * attributes — one UPDATE encoding, packed full, for all of them.
 */
export interface OutGroup {
  /** The best path of one of the prefixes: its attributes and source stand for all of them. */
  readonly path: Path;
  readonly prefixes: Prefix[];
}

/** A prefix whose best path changed since the last drain (what the kernel must follow). */
export interface OutChange {
  readonly prefix: Prefix;
  /** The best path the peers were last told of. */
  readonly old?: Path;
  readonly now?: Path;
}

/** What one drain sends: announcement groups (each peer takes those it may have) and withdrawals per peer id. */
export interface OutBatch {
  readonly groups: readonly OutGroup[];
  readonly withdraw: ReadonlyMap<string, Prefix[]>;
  readonly changes: readonly OutChange[];
}

/** Prefixes grouped by (attribute set, source), in first-seen order. */
class Grouping {
  readonly #byAttributes = new Map<PathAttributes, Map<string, OutGroup>>();
  readonly groups: OutGroup[] = [];

  add(prefix: Prefix, path: Path): void {
    let bySource = this.#byAttributes.get(path.attributes);
    if (!bySource) {
      bySource = new Map();
      this.#byAttributes.set(path.attributes, bySource);
    }
    const source = path.from?.id ?? "";
    let g = bySource.get(source);
    if (!g) {
      g = { path, prefixes: [] };
      bySource.set(source, g);
      this.groups.push(g);
    }
    g.prefixes.push(prefix);
  }
}

/**
 * The Adj-RIBs-Out of every peer, held once (RFC 4271 §3.2; FRR's update groups, BIRD's buckets):
 * the best path per prefix as last sent, which each peer sees through the export rules
 * (`shouldAdvertise`: never back to the peer it came from, reflection only by a route reflector).
 * Changes of the Loc-RIB are marked as they happen and drained in one batch, grouped by attribute
 * set — so prefixes that share attributes leave in full UPDATEs however the peers that sent them
 * packed theirs, and a prefix whose attributes changed again before the drain leaves once, in the
 * group of its latest attributes. Pure: the speaker decides when to drain (at once when idle, so a
 * single change is not held back) and does the encoding and I/O.
 */
export class AdjRibOut {
  /** Best path per prefix as last drained: what every peer has been told (through the export rules). */
  readonly #advertised = new Map<Prefix, Path>();
  /** Prefixes changed since the last drain, with their best path now (undefined: none). */
  readonly #pending = new Map<Prefix, Path | undefined>();
  /**
   * The advertised paths that are not iBGP-learned (ours, eBGP-learned): all a speaker that does
   * not reflect sends an iBGP peer. A full-mesh node among 200 advertises 200 prefixes and sends
   * each new session one of them; the table was found by checking all 200 at each of 199 sessions.
   */
  readonly #toEveryIbgp = new Map<Prefix, Path>();
  #toEveryIbgpVersion = 0;

  constructor(private readonly local: LocalSpeaker) {}

  /** The Loc-RIB's best path for `prefix` is now `path` (undefined: the prefix is gone). */
  mark(prefix: Prefix, path: Path | undefined): void {
    this.#pending.set(prefix, path);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Prefixes advertised now (as of the last drain). */
  get size(): number {
    return this.#advertised.size;
  }

  /**
   * Everything marked since the last drain, for the peers up now: announcements grouped by
   * attribute set, and for each peer the prefixes it had and must not have any more.
   * `changes: false`: the batch lists no per-prefix changes (nobody follows them: a reflector that
   * installs nothing) — one transient object less per route of a burst.
   */
  drain(peers: readonly PeerInfo[], o: { readonly changes?: boolean } = {}): OutBatch {
    const listChanges = o.changes !== false;
    const grouping = new Grouping();
    const withdraw = new Map<string, Prefix[]>();
    const changes: OutChange[] = [];
    for (const [prefix, now] of this.#pending) {
      const old = this.#advertised.get(prefix);
      if (old === now) continue;
      if (now) this.#advertised.set(prefix, now);
      else this.#advertised.delete(prefix);
      if ((old && !old.from?.ibgp) || (now && !now.from?.ibgp)) {
        if (now && !now.from?.ibgp) this.#toEveryIbgp.set(prefix, now);
        else this.#toEveryIbgp.delete(prefix);
        this.#toEveryIbgpVersion++;
      }
      if (listChanges) changes.push({ prefix, old, now });
      if (now) grouping.add(prefix, now);
      if (!old) continue;
      // A peer that was told of the old path and may not have the new one gets a withdrawal.
      for (const peer of peers) {
        if (now && shouldAdvertise(this.local, now, peer)) continue;
        if (!shouldAdvertise(this.local, old, peer)) continue;
        let list = withdraw.get(peer.id);
        if (!list) {
          list = [];
          withdraw.set(peer.id, list);
        }
        list.push(prefix);
      }
    }
    this.#pending.clear();
    return { groups: grouping.groups, withdraw, changes };
  }

  /** The groups `peer` takes from a batch (the export rules per group: one check, not one per prefix). */
  groupsFor(peer: PeerInfo, groups: readonly OutGroup[]): OutGroup[] {
    return groups.filter((g) => shouldAdvertise(this.local, g.path, peer));
  }

  /** Everything advertised that `peer` should have (a session up, a ROUTE-REFRESH), grouped. */
  table(peer: PeerInfo): OutGroup[] {
    const grouping = new Grouping();
    const source = this.sameForEveryIbgpPeer(peer) ? this.#toEveryIbgp : this.#advertised;
    for (const [prefix, path] of source) {
      if (shouldAdvertise(this.local, path, peer)) grouping.add(prefix, path);
    }
    return grouping.groups;
  }

  /**
   * Whether `peer`'s table is every iBGP peer's (an iBGP peer of a speaker that does not reflect:
   * only what is not iBGP-learned goes, the same to all); then `tableVersion` says when it changed.
   */
  sameForEveryIbgpPeer(peer: PeerInfo): boolean {
    return peer.ibgp && this.local.clusterId === undefined;
  }

  /** Changes whenever the table `sameForEveryIbgpPeer` peers get may have changed. */
  get tableVersion(): number {
    return this.#toEveryIbgpVersion;
  }
}
