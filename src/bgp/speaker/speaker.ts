import { createServer, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import ipaddr from "ipaddr.js";
import { ipv4ToNumber } from "../../common/cidr.js";
import { endOfRib, endOfRibFamily, familyKey, familyOfPrefix } from "../codec/end-of-rib.js";
import { BgpError, CeaseSubcode, OpenSubcode } from "../codec/errors.js";
import { encodeMessage } from "../codec/messages.js";
import type { Prefix } from "../codec/prefix.js";
import type { OpenMessage, PathAttributes, UpdateMessage } from "../codec/types.js";
import type { FsmStateName } from "../fsm/fsm.js";
import {
  type GracefulRestartConfig,
  onReestablished,
  onSessionEnd,
  type PeerRestartTerms,
  peerRestartTerms,
  selectionMayRun,
} from "../fsm/graceful-restart.js";
import { familyNegotiated, negotiatedFamilies } from "../fsm/negotiation.js";
import { AdjRibOut, type OutGroup } from "../rib/adj-rib-out.js";
import { acceptAll, type ImportPolicy, prefixListVerdict } from "../rib/import-policy.js";
import { maxPrefixNotification } from "../rib/max-prefix.js";
import type { Path, PeerInfo } from "../rib/path.js";
import type { PrefixRange } from "../rib/prefix-list.js";
import { exportAttributes, type LocalSpeaker } from "../rib/reflection.js";
import { type BestChange, type ImportScope, Rib } from "../rib/rib.js";
import { BgpConnection, type ConnectionEvents } from "./connection.js";
import { type ConnectionCounts, noConnections } from "./connection-counts.js";
import { redialSeconds } from "./dial-backoff.js";
import { firstDial, RecentDialers } from "./dial-policy.js";
import { exportNextHops } from "./export-next-hop.js";
import { type IgnoredFamily, receivedFamilies } from "./received-families.js";
import { samePeerConfig } from "./same-peer-config.js";
import { type InterfaceAddress, type SessionLink, sessionLink } from "./session-link.js";
import {
  checkProtection,
  protectAccepted,
  protectableListener,
  setListenerKey,
  type TcpProtection,
} from "./tcp-security.js";
import { announceUpdates, withdrawUpdates } from "./update-builder.js";

export interface PeerConfig {
  readonly address: string;
  readonly asn: number;
  /** TCP port to dial (179 when absent). */
  readonly port?: number;
  /** A route-reflector client of ours (RFC 4456); only meaningful with a cluster id. */
  readonly rrClient?: boolean;
  /** Never dial; wait for the peer to connect. */
  readonly passive?: boolean;
  /** Close the session (Cease / Maximum Number of Prefixes Reached) past this many prefixes. */
  readonly maxPrefixes?: number;
  /** Rewrite NEXT_HOP to ourselves also on iBGP (always done on eBGP). */
  readonly nextHopSelf?: boolean;
  /**
   * Import policy of this peer's own configuration (RFC 4271 §9.1): only prefixes inside these
   * ranges enter the Loc-RIB. Absent: no list (other policies still apply); a default route is
   * refused either way unless listed exactly.
   */
  readonly importList?: readonly PrefixRange[];
  /** RFC 2385 TCP-MD5 key for this session (1..80 bytes); the session never runs without it. */
  readonly md5Key?: Uint8Array;
  /** RFC 5082 GTSM: directly connected, TTL 255 both ways. */
  readonly ttlSecurity?: boolean;
  /** Offer RFC 8950 extended next hops: IPv4 routes with IPv6 next hops (FRR: capability extended-nexthop). */
  readonly extendedNextHop?: boolean;
  /**
   * On a link shared with the peer, put our link-local address beside our global IPv6 next hop
   * (RFC 2545 §3). Off unless asked: FRR 8.4's bgpd without interface information (no zebra)
   * answers it with NOTIFICATION 3/10. A session over link-local addresses sends it anyway.
   */
  readonly linkLocalNextHop?: boolean;
}

export type SpeakerEvent =
  | { readonly event: "state"; readonly peer: string; readonly state: FsmStateName }
  | {
      readonly event: "established";
      readonly peer: string;
      readonly routerId: string;
      /** Our address on the session. */
      readonly local?: string;
    }
  | { readonly event: "down"; readonly peer: string; readonly reason: string }
  | { readonly event: "refused"; readonly peer: string; readonly reason: string }
  | {
      /** An UPDATE had a recoverable error (RFC 7606): its routes were withdrawn or an attribute dropped. */
      readonly event: "update-error";
      readonly peer: string;
      readonly action: "treat-as-withdraw" | "attribute-discard";
      readonly attribute: number;
      readonly reason: string;
      readonly prefixes: number;
    }
  | {
      /** Routes of a family the session negotiated cannot go out: we have no next hop of that family. */
      readonly event: "unsendable";
      readonly peer: string;
      readonly family: "ipv4" | "ipv6";
      readonly reason: string;
    }
  | {
      /**
       * The peer sent routes of a family the session did not negotiate (RFC 4760 §7): ignored
       * (not installed, not passed on); told once per family and session, counted in sessions().
       */
      readonly event: "family-ignored";
      readonly peer: string;
      readonly family: string;
      readonly prefixes: number;
    }
  | {
      readonly event: "rejected-routes";
      readonly peer: string;
      /** Prefixes of one UPDATE the import policy refused (the first few) and how many in all. */
      readonly prefixes: readonly { readonly prefix: Prefix; readonly reason: string }[];
      readonly count: number;
    }
  | {
      /** A graceful-restart peer's session dropped: its routes stay, stale, for its restart time (RFC 4724 §4.2). */
      readonly event: "routes-stale";
      readonly peer: string;
      readonly routes: number;
      readonly restartSeconds: number;
    }
  | {
      /** Stale routes removed: End-of-RIB came, the restart time ran out, or the new session kept no forwarding state. */
      readonly event: "stale-swept";
      readonly peer: string;
      readonly routes: number;
      readonly reason: string;
    }
  | { readonly event: "end-of-rib"; readonly peer: string; readonly family: string }
  | {
      /** Restarting speaker: route selection ran (every peer's End-of-RIB, or the deferral timer). */
      readonly event: "selection-done";
      readonly reason: string;
    };

/** One peer as `sessions()` reports it (and /healthz shows it). */
export interface SessionStatus {
  readonly peer: string;
  readonly state: FsmStateName;
  readonly asn: number;
  /** Prefixes accepted from this peer (in the Loc-RIB's candidates). */
  readonly prefixes: number;
  /** Prefixes this peer announces now that import policy refused (never installed). */
  readonly rejected: number;
  /** Announcements refused since the speaker started (kept across session resets). */
  readonly rejectedTotal: number;
  /** A few of the refused prefixes with the reason, for an operator to see what is going on. */
  readonly rejectedExamples?: readonly { readonly prefix: Prefix; readonly reason: string }[];
  readonly md5: boolean;
  /** UPDATEs whose routes were treated as withdrawn (RFC 7606; e.g. a bad NEXT_HOP) since the speaker started. */
  readonly treatedAsWithdraw: number;
  /** UPDATEs (or parts) of a family the session did not negotiate, ignored since the speaker started. */
  readonly ignoredFamilies: number;
  /** Why the last connection to this peer closed (a NOTIFICATION, a socket error), for diagnosis. */
  readonly lastDown?: string;
  /** Graceful restart with this peer (RFC 4724): both sides advertised it on the last session. */
  readonly gracefulRestart: {
    readonly negotiated: boolean;
    /** The peer's restart time and R bit from its last OPEN. */
    readonly peerRestartTime?: number;
    readonly peerRestarting?: boolean;
    /** Its routes kept stale now (session down within its restart time, or awaiting its End-of-RIB). */
    readonly staleRoutes: number;
    /** Families whose End-of-RIB it sent on this session. */
    readonly endOfRibReceived: readonly string[];
  };
}

/** Graceful restart options (RFC 4724); every field has a default. */
export interface GracefulRestartOptions {
  /** Seconds peers should keep our routes after our session drops (0..4095; default 120). */
  readonly restartTime?: number;
  /**
   * Start as a restarting speaker: R bit set, F bit set when forwardingPreserved, route selection
   * (kernel and exports) deferred until every peer's End-of-RIB or selectionDeferralSeconds.
   */
  readonly restarting?: boolean;
  /** Our forwarding state (kernel routes) survived the restart (default true when restarting). */
  readonly forwardingPreserved?: boolean;
  /** How long a restarting speaker waits for End-of-RIB before selecting anyway (default 60 s). */
  readonly selectionDeferralSeconds?: number;
  /**
   * A restarting speaker stops waiting for a peer that has not even opened a TCP connection this
   * long after the start, once another peer has sent its End-of-RIB (default 5 s): a dead
   * neighbour does not hold selection for the whole deferral time.
   */
  readonly unreachablePeerSeconds?: number;
  /**
   * Set the N bit (RFC 8538, default true): with a peer that sets it too, a NOTIFICATION other than
   * Hard Reset keeps routes stale on both sides like a dropped connection.
   */
  readonly notification?: boolean;
  /** How long a helper keeps a returned peer's stale routes waiting for its End-of-RIB (default 360 s). */
  readonly stalePathSeconds?: number;
}

/** A change of the route this speaker would install: nextHop undefined means remove. */
export interface LearnedRouteChange {
  readonly prefix: Prefix;
  readonly nextHop?: string;
  /** The attributes of the path now chosen (absent on removal). */
  readonly attributes?: PathAttributes;
  /** The device of the session it came on, when the next hop is link-local (reachable only there). */
  readonly dev?: string;
}

export interface SpeakerOptions {
  readonly asn: number;
  readonly routerId: string;
  /** Set to act as a route reflector (RFC 4456) for peers marked rrClient. */
  readonly clusterId?: string;
  readonly holdTime?: number;
  readonly connectRetrySeconds?: number;
  /**
   * Dials that keep failing back off from the connect-retry time, doubling up to this (default
   * 30 s; dial-backoff.ts); dialNow dials a peer known to be back at once.
   */
  readonly connectRetryMaxSeconds?: number;
  /**
   * How long a peer added as not listening yet (setPeers' `held`) waits for dialNow before it is
   * dialled anyway (default 10 s): a dead or silent peer still gets its session when it listens.
   */
  readonly heldDialSeconds?: number;
  /** Accept connections here (port 179 when absent); omit to never listen. */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Source address for outgoing connections. */
  readonly localAddress?: string;
  /**
   * NEXT_HOP of originated IPv4 routes (the session's local address when absent), and of every
   * IPv4 route sent over an IPv6 session (whose own address cannot be an IPv4 NEXT_HOP).
   */
  readonly nextHop?: string;
  /** NEXT_HOP of IPv6 routes we are the next hop of (over an IPv6 session its address when absent). */
  readonly ipv6NextHop?: string;
  /** Negotiate IPv6 unicast (RFC 4760); implied by ipv6NextHop. */
  readonly ipv6?: boolean;
  /**
   * Import policy on top of each peer's own list (e.g. the cluster's: a node only for the subnet
   * it leases); change it with setImportPolicy.
   */
  readonly importPolicy?: ImportPolicy;
  /**
   * Graceful restart (RFC 4724): advertised and helped with by default (restart time 120 s);
   * `false` neither advertises nor keeps a dropped peer's routes.
   */
  readonly gracefulRestart?: GracefulRestartOptions | false;
  readonly onEvent?: (e: SpeakerEvent) => void;
  readonly onRoutes?: (changes: readonly LearnedRouteChange[]) => void;
  /**
   * Run in this network namespace (a namespace file, e.g. /run/netns/NODE) instead of this
   * process's: the listener and every connection are made inside it (through the native addon).
   * Give `interfaces` from that namespace too.
   */
  readonly netnsPath?: string;
  /** The host's interfaces (node:os networkInterfaces when absent): a session's link and our link-local address on it. */
  readonly interfaces?: () => Readonly<Record<string, readonly InterfaceAddress[] | undefined>>;
}

interface Peer {
  readonly config: PeerConfig;
  info: PeerInfo;
  readonly connections: Set<BgpConnection>;
  established?: BgpConnection;
  redial?: NodeJS.Timeout;
  /** Outbound connections in a row that closed before Established (the redial backs off). */
  failedDials: number;
  removed: boolean;
  rejectedTotal: number;
  treatedAsWithdraw: number;
  /** Families already reported unsendable on the current session (one event each). */
  unsendable: Set<string>;
  /** Families not negotiated that the peer sent: reported once per session, counted always. */
  ignoredFamilies: Set<string>;
  ignoredFamilyCount: number;
  /** The link the established session runs over (RFC 2545 link-local next hops). */
  link?: SessionLink;
  /** Why its last connection closed (not cleared when a new one is up: /healthz shows state beside it). */
  lastDown?: string;
  /** Its graceful-restart capability on the last session that reached Established. */
  terms?: PeerRestartTerms;
  /** Families negotiated on the last established session. */
  families: string[];
  /** Families of its routes kept stale now. */
  readonly staleFamilies: Set<string>;
  /** Runs while its session is down with stale routes kept (its restart time). */
  restartTimer?: NodeJS.Timeout;
  /** Runs while a returned peer's End-of-RIB is awaited. */
  staleTimer?: NodeJS.Timeout;
  /** Families whose End-of-RIB it sent on the current session. */
  readonly endOfRib: Set<string>;
  /** We sent our End-of-RIB on the current session. */
  endOfRibSent: boolean;
  /** A TCP connection with it opened since the speaker started (it is alive, if slow). */
  reached: boolean;
}

const protectionOf = (c: PeerConfig): TcpProtection => ({ md5Key: c.md5Key, ttlSecurity: c.ttlSecurity });

/**
 * The next hop to forward to: IPv6's global one, or its link-local one when that is all (RFC 2545
 * §3); an IPv4 route's NEXT_HOP, or its MP_REACH next hop when it came there (RFC 8950: IPv6).
 */
const pathNextHop = (prefix: Prefix, p: Path): string | undefined => {
  if (!prefix.includes(":") && p.attributes.mpReach?.afi !== 1) return p.attributes.nextHop;
  const hops = p.attributes.mpReach?.nextHops ?? [];
  return hops.find((h) => h !== "::" && !/^fe[89ab][0-9a-f]:/i.test(h)) ?? hops.find((h) => h !== "::");
};
const isV6 = (p: Prefix) => p.includes(":");
/** One text per address (IPv6 compressed, zone and IPv4-mapped prefix dropped) to find a peer by. */
const addressKey = (a: string): string => {
  const bare = a.replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.)/, "");
  return ipaddr.isValid(bare) ? ipaddr.parse(bare).toString() : bare;
};
const collision = { code: BgpError.Cease, subcode: CeaseSubcode.ConnectionCollisionResolution } as const;

/**
 * A BGP speaker: one listener and many peers, each with at most one established connection, all
 * feeding one RIB (Adj-RIB-In → Loc-RIB) whose changes are sent on to every peer (Adj-RIB-Out is
 * what was last flushed plus the export rules) and reported as routes to install.
 */
export class BgpSpeaker {
  readonly #peers = new Map<string, Peer>();
  readonly #rib: Rib;
  readonly #local: LocalSpeaker;
  /** What every peer has been told, and what changed since: drained by #flush. */
  readonly #out: AdjRibOut;
  /** Exported attributes per source attribute set and export view (shared by every peer in the view). */
  readonly #exports = new WeakMap<PathAttributes, Map<string, Exported>>();
  #flushQueued = false;
  #server: Server | undefined;
  /** The listener's descriptor when made natively (TCP-MD5 keys are set on it per peer). */
  #listener: { fd: number; family: 4 | 6 } | undefined;
  /** Peer address → the key now on the listener. */
  readonly #listenerKeys = new Map<string, Uint8Array>();
  /** Who dialled us before they were our peers (dial-policy.ts): their first dial is not held. */
  readonly #recentDialers = new RecentDialers();
  #stopped = false;
  #policy: ImportPolicy;
  /** Graceful restart as advertised (undefined: disabled). */
  readonly #gr: GracefulRestartConfig | undefined;
  /** A restarting speaker before its route selection (RFC 4724 §4.1): nothing is exported or installed. */
  #deferring: boolean;
  #deferralTimer: NodeJS.Timeout | undefined;
  /** Fires when peers that never opened a TCP connection stop being waited for (a restarting speaker). */
  #unreachableTimer: NodeJS.Timeout | undefined;
  #unreachableExcused = false;
  updatesReceived = 0;
  /** Connections made and taken, and why some were wasted (status, /healthz). */
  readonly connectionCounts: ConnectionCounts = noConnections();

  constructor(private readonly o: SpeakerOptions) {
    const gr = o.gracefulRestart;
    this.#gr =
      gr === false
        ? undefined
        : {
            restartTime: gr?.restartTime ?? 120,
            restarting: gr?.restarting ?? false,
            forwardingPreserved: gr?.forwardingPreserved ?? true,
            notification: gr?.notification ?? true,
          };
    this.#deferring = this.#gr?.restarting === true;
    this.#local = { asn: o.asn, routerId: o.routerId, clusterId: o.clusterId };
    this.#rib = new Rib(this.#local);
    this.#out = new AdjRibOut(this.#local);
    this.#policy = o.importPolicy ?? acceptAll;
    this.#rib.setImportPolicy(this.#composedPolicy());
  }

  /**
   * Start listening (when configured) and dial every active peer. Resolves once listening.
   * Throws before anything starts when a peer asks for TCP-MD5/GTSM and the addon is missing.
   */
  async start(peers: readonly PeerConfig[] = []): Promise<void> {
    for (const p of peers) checkProtection(p.address, protectionOf(p));
    if (this.o.listen) {
      const server = createServer((s) => this.#accept(s));
      this.#server = server;
      const host = this.o.listen.host;
      const port = this.o.listen.port ?? 179;
      const native = protectableListener(host, port, this.o.netnsPath);
      if (native !== undefined) this.#listener = native;
      const fd = native?.fd;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(fd !== undefined ? { fd } : { host, port }, () => resolve());
      });
    }
    this.setPeers(peers);
    if (this.#deferring) {
      const seconds =
        (this.o.gracefulRestart ? this.o.gracefulRestart.selectionDeferralSeconds : undefined) ?? 60;
      this.#deferralTimer = setTimeout(
        () => this.#endDeferral("selection deferral timer expired"),
        seconds * 1000,
      );
      const grace = (this.o.gracefulRestart ? this.o.gracefulRestart.unreachablePeerSeconds : undefined) ?? 5;
      this.#unreachableTimer = setTimeout(() => {
        this.#unreachableExcused = true;
        this.#checkDeferral();
      }, grace * 1000);
    }
  }

  /** A restarting speaker still waiting for its peers' End-of-RIB before selecting routes. */
  get deferring(): boolean {
    return this.#deferring;
  }

  /** Routes kept stale now, over every peer. */
  get staleRoutes(): number {
    let n = 0;
    for (const p of this.#peers.values()) n += this.#rib.staleCount(p.info.id);
    return n;
  }

  /** The deferral ends once every peer sent End-of-RIB (or was left out): check after each change. */
  #checkDeferral(): void {
    if (!this.#deferring || this.#peers.size === 0) return;
    const peers = [...this.#peers.values()].map((p) => ({
      established: p.established !== undefined,
      reached: p.reached,
      terms: p.terms,
      families: p.families,
      endOfRib: p.endOfRib,
    }));
    const verdict = selectionMayRun(peers, { excuseUnreached: this.#unreachableExcused });
    if (verdict.run)
      this.#endDeferral(
        verdict.unreached > 0
          ? `End-of-RIB from every peer up; ${verdict.unreached} never opened a connection`
          : "End-of-RIB from every peer",
      );
  }

  /** Route selection runs: the kernel learns the Loc-RIB, every peer gets the table and our End-of-RIB. */
  #endDeferral(reason: string): void {
    if (!this.#deferring) return;
    this.#deferring = false;
    clearTimeout(this.#deferralTimer);
    clearTimeout(this.#unreachableTimer);
    // The Loc-RIB goes out first (onRoutes, the peers' tables): whoever follows "selection-done"
    // to drop what it kept meanwhile finds the routes that replace it already given.
    this.#flush();
    this.o.onEvent?.({ event: "selection-done", reason });
    for (const peer of this.#peers.values()) {
      const c = peer.established;
      if (c && !peer.endOfRibSent) this.#sendEndOfRib(peer, c);
    }
  }

  /**
   * Replace the policy on top of the peers' lists; the Adj-RIBs-In are run through it again (only
   * the routes `scope` selects: the caller knows the others keep their verdicts, Rib.setImportPolicy).
   */
  setImportPolicy(policy: ImportPolicy, scope?: ImportScope): void {
    this.#policy = policy;
    this.#queue(this.#rib.setImportPolicy(this.#composedPolicy(), scope));
  }

  /** The peer's own list first (and the default-route rule), then the speaker-wide policy. */
  #composedPolicy(): ImportPolicy {
    const policy = this.#policy;
    return (from, prefix, attributes) =>
      prefixListVerdict(this.#peers.get(from.address)?.config.importList, prefix) ??
      policy(from, prefix, attributes);
  }

  get port(): number | undefined {
    const a = this.#server?.address();
    return typeof a === "object" && a ? a.port : undefined;
  }

  /**
   * Make the peer set exactly `configs` (by address): new ones start, missing ones stop. New
   * peers in `held` (not known to listen yet) are dialled by dialNow or after heldDialSeconds
   * (dial-policy.ts). Throws, changing nothing, when a peer asks for TCP protection this process
   * cannot give.
   */
  setPeers(configs: readonly PeerConfig[], o: { readonly held?: ReadonlySet<string> } = {}): void {
    for (const c of configs) checkProtection(c.address, protectionOf(c));
    if (this.o.listen && !this.#listener && configs.some((c) => c.md5Key))
      checkProtection("listener", { md5Key: new Uint8Array(1) });
    const want = new Map(configs.map((c) => [c.address, c]));
    for (const [address, peer] of this.#peers) {
      const c = want.get(address);
      if (!c || !samePeerConfig(c, peer.config)) this.#removePeer(peer);
    }
    for (const c of configs) {
      if (this.#peers.has(c.address)) continue;
      const peer: Peer = {
        config: c,
        info: this.#infoOf(c, "0.0.0.0"),
        connections: new Set(),
        removed: false,
        failedDials: 0,
        rejectedTotal: 0,
        treatedAsWithdraw: 0,
        unsendable: new Set(),
        ignoredFamilies: new Set(),
        ignoredFamilyCount: 0,
        families: [],
        staleFamilies: new Set(),
        endOfRib: new Set(),
        endOfRibSent: false,
        reached: false,
      };
      this.#peers.set(c.address, peer);
      const first = firstDial(c, o.held, this.#recentDialers.take(addressKey(c.address), Date.now()));
      if (first === "now") this.#dial(peer);
      else if (first === "hold") this.#holdDial(peer);
    }
    this.#syncListenerKeys();
    this.#checkDeferral();
  }

  /** The listener carries exactly the keys of the configured peers (Linux copies them to accepted sockets). */
  #syncListenerKeys(): void {
    const l = this.#listener;
    if (!l) return;
    for (const [address, key] of this.#listenerKeys) {
      const now = this.#peers.get(address)?.config.md5Key;
      if (now && Buffer.compare(now, key) === 0) continue;
      setListenerKey(l.fd, l.family, address, undefined);
      this.#listenerKeys.delete(address);
    }
    for (const [address, peer] of this.#peers) {
      const key = peer.config.md5Key;
      if (!key || this.#listenerKeys.has(address)) continue;
      setListenerKey(l.fd, l.family, address, key);
      this.#listenerKeys.set(address, key);
    }
  }

  /** Announce a prefix of our own (attributes default to ORIGIN IGP, empty AS_PATH). */
  originate(prefix: Prefix, attributes: PathAttributes = { origin: "igp", asPath: [] }): void {
    this.#queue(this.#rib.originate(prefix, { origin: "igp", asPath: [], ...attributes }));
  }

  withdraw(prefix: Prefix): void {
    this.#queue(this.#rib.originate(prefix, undefined));
  }

  /** Session states by peer address, with what import policy accepted and refused. */
  /** One peer's session state (what sessions() says of it, without the rest); undefined: not a peer. */
  sessionState(address: string): SessionStatus["state"] | undefined {
    const p = this.#peers.get(address);
    return p && this.#stateOf(p);
  }

  sessions(): SessionStatus[] {
    return [...this.#peers.values()].map((p) => {
      const rejected = this.#rib.rejected(p.info.id);
      return {
        peer: p.config.address,
        asn: p.config.asn,
        state: this.#stateOf(p),
        prefixes: this.#rib.prefixCount(p.info.id),
        rejected: rejected.size,
        rejectedTotal: p.rejectedTotal,
        ...(rejected.size > 0
          ? {
              rejectedExamples: [...rejected]
                .slice(0, 3)
                .map(([prefix, r]) => ({ prefix, reason: r.reason })),
            }
          : {}),
        md5: p.config.md5Key !== undefined,
        treatedAsWithdraw: p.treatedAsWithdraw,
        ignoredFamilies: p.ignoredFamilyCount,
        ...(p.lastDown ? { lastDown: p.lastDown } : {}),
        gracefulRestart: {
          negotiated: this.#gr !== undefined && p.terms !== undefined,
          ...(p.terms ? { peerRestartTime: p.terms.restartTime, peerRestarting: p.terms.restarting } : {}),
          staleRoutes: this.#rib.staleCount(p.info.id),
          endOfRibReceived: [...p.endOfRib],
        },
      };
    });
  }

  /** The routes this speaker would install now: best paths learned from peers. */
  learnedRoutes(): Map<Prefix, string> {
    const out = new Map<Prefix, string>();
    for (const [prefix, path] of this.#rib.bestPaths()) {
      const nh = path.from && pathNextHop(prefix, path);
      if (nh) out.set(prefix, nh);
    }
    return out;
  }

  get ribSize(): number {
    return this.#rib.size;
  }

  /**
   * Stop every session and the listener. `graceful` (with graceful restart on): peers keep our
   * routes for our restart time while we come back — those that set the N bit get Cease /
   * Administrative Shutdown as it is (RFC 8538 §4), the others a closed connection without a
   * NOTIFICATION (RFC 4724, as a process exit would). Otherwise Cease / Administrative Shutdown,
   * as a Hard Reset to N-bit peers: every peer drops our routes.
   */
  async stop(o: { readonly graceful?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#deferralTimer);
    clearTimeout(this.#unreachableTimer);
    for (const peer of this.#peers.values()) {
      if (o.graceful && this.#gr)
        for (const c of [...peer.connections]) {
          if (c.state === "Established" && c.notificationNegotiated) c.stop({ graceful: true });
          else c.closeQuietly("stopped for a graceful restart", "administrative");
        }
      this.#removePeer(peer);
    }
    const server = this.#server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  #infoOf(c: PeerConfig, routerId: string): PeerInfo {
    return {
      id: c.address,
      routerId,
      address: c.address,
      asn: c.asn,
      ibgp: c.asn === this.o.asn,
      rrClient: (c.rrClient ?? false) && this.o.clusterId !== undefined,
    };
  }

  /** A peer's session state: Established, or the furthest any of its connections got. */
  #stateOf(p: Peer): FsmStateName {
    return p.established ? "Established" : this.#furthest(p);
  }

  #furthest(p: Peer): FsmStateName {
    const order: FsmStateName[] = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];
    let best: FsmStateName = "Idle";
    for (const c of p.connections) if (order.indexOf(c.state) > order.indexOf(best)) best = c.state;
    return best;
  }

  #removePeer(peer: Peer): void {
    peer.removed = true;
    clearTimeout(peer.redial);
    clearTimeout(peer.restartTimer);
    clearTimeout(peer.staleTimer);
    for (const c of [...peer.connections]) c.stop();
    this.#peers.delete(peer.config.address);
  }

  #settings(peer: Peer) {
    return {
      localAs: this.o.asn,
      routerId: this.o.routerId,
      holdTime: this.o.holdTime ?? 90,
      peerAs: peer.config.asn,
      connectRetrySeconds: this.o.connectRetrySeconds ?? 5,
      connectRetryMaxSeconds: this.o.connectRetryMaxSeconds ?? 30,
      ipv6: this.o.ipv6 === true || this.o.ipv6NextHop !== undefined,
      extendedNextHop: peer.config.extendedNextHop === true,
      ownAddresses: [this.o.nextHop, this.o.ipv6NextHop, this.o.localAddress].filter(
        (a): a is string => a !== undefined,
      ),
      // The R bit (and with it the F bits) only while this restart lasts: a session that comes up
      // after our selection is no restart, and a peer that saw R would not wait for our End-of-RIB.
      // A reflector whose role changed came back restarting and said R for good: every client
      // restarted later ran its selection before the reflector's table came and dropped its routes.
      gracefulRestart: this.#gr && !this.#deferring ? { ...this.#gr, restarting: false } : this.#gr,
      netnsPath: this.o.netnsPath,
    };
  }

  #dial(peer: Peer): void {
    if (peer.config.passive || peer.removed || this.#stopped || peer.established) return;
    if ([...peer.connections].some((c) => c.direction === "outbound")) return;
    const c = new BgpConnection("outbound", this.#settings(peer), this.#events(peer));
    peer.connections.add(c);
    // The source address applies to peers of its family (an agent's IPv4 address, an IPv6 peer).
    const local = this.o.localAddress;
    const source = local !== undefined && isV6(local) === isV6(peer.config.address) ? local : undefined;
    c.dial(peer.config.address, peer.config.port ?? 179, source, protectionOf(peer.config));
  }

  /** The first dial waits for dialNow (the peer's agent came alive), or heldDialSeconds at most. */
  #holdDial(peer: Peer): void {
    this.connectionCounts.held++;
    clearTimeout(peer.redial);
    peer.redial = setTimeout(() => this.#dial(peer), (this.o.heldDialSeconds ?? 10) * 1000);
  }

  #scheduleDial(peer: Peer): void {
    if (peer.config.passive || peer.removed || this.#stopped) return;
    clearTimeout(peer.redial);
    const wait = redialSeconds(
      this.o.connectRetrySeconds ?? 5,
      peer.failedDials,
      this.o.connectRetryMaxSeconds ?? 30,
    );
    this.connectionCounts.redials++;
    peer.redial = setTimeout(() => this.#dial(peer), wait * 1000);
  }

  /**
   * The peer is known to listen again (its agent's heartbeat is back): dial it now instead of at
   * the end of its back-off. Nothing for a passive, established or unknown peer, or one being dialled.
   */
  dialNow(address: string): void {
    const peer = this.#peers.get(address);
    if (!peer || peer.config.passive || peer.established || peer.removed || this.#stopped) return;
    clearTimeout(peer.redial);
    peer.failedDials = 0;
    this.connectionCounts.dialNow++;
    for (const c of peer.connections) if (c.direction === "outbound") c.retryNow();
    this.#dial(peer);
  }

  #accept(socket: Socket): void {
    const address = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "";
    const key = addressKey(address);
    const peer =
      this.#peers.get(address) ?? [...this.#peers.values()].find((p) => addressKey(p.config.address) === key);
    if (!peer || this.#stopped) {
      // Not a configured neighbour: no session (RFC 4271 §8: connections from unknown peers are refused).
      this.o.onEvent?.({ event: "refused", peer: address, reason: "not a configured peer" });
      if (!this.#stopped) this.#recentDialers.note(key, Date.now());
      socket.destroy();
      return;
    }
    if (peer.config.ttlSecurity) {
      try {
        protectAccepted(socket);
      } catch (err) {
        this.o.onEvent?.({ event: "refused", peer: address, reason: String(err) });
        socket.destroy();
        return;
      }
    }
    const c = new BgpConnection("inbound", this.#settings(peer), this.#events(peer));
    peer.connections.add(c);
    this.connectionCounts.accepted++;
    c.adopt(socket);
  }

  #events(peer: Peer): ConnectionEvents {
    return {
      onOpen: (c, open) => this.#onOpen(peer, c, open),
      onEstablished: (c) => {
        this.connectionCounts.established++;
        for (const other of peer.connections)
          if (other !== c) {
            // One still dialling or waiting to redial is no connection lost; a connected one is.
            if (other.state === "OpenSent" || other.state === "OpenConfirm") this.#countCollision(c, other);
            other.abort(collision, "collision");
          }
        // Changes not yet sent go to the other peers first: this one gets them in its table, then End-of-RIB.
        if (!this.#deferring && this.#out.pending > 0) this.#flush();
        peer.established = c;
        peer.unsendable.clear();
        peer.ignoredFamilies.clear();
        peer.info = this.#infoOf(peer.config, c.remoteOpen?.bgpId ?? "0.0.0.0");
        peer.link = sessionLink(
          c.localAddress,
          peer.config.address,
          (this.o.interfaces ?? networkInterfaces)(),
        );
        clearTimeout(peer.redial);
        peer.failedDials = 0;
        this.o.onEvent?.({
          event: "established",
          peer: peer.config.address,
          routerId: peer.info.routerId,
          ...(c.localAddress ? { local: c.localAddress } : {}),
        });
        this.#restartTermsOnEstablished(peer, c);
        // A restarting speaker sends nothing before its route selection (then the table and End-of-RIB).
        if (!this.#deferring) this.#sendTable(peer, c, { endOfRib: true });
        this.#checkDeferral();
      },
      onUpdate: (c, u) => this.#onUpdate(peer, c, u),
      onRouteRefresh: (c) => this.#sendTable(peer, c),
      onClosed: (c, established, reason) => {
        peer.connections.delete(c);
        if (reason !== "stopped") peer.lastDown = reason;
        if (peer.established === c) {
          peer.established = undefined;
          this.#sessionLost(peer, c);
          this.o.onEvent?.({ event: "down", peer: peer.config.address, reason });
        }
        if (!established && c.direction === "outbound") peer.failedDials++;
        if (!peer.established && (established || c.direction === "outbound")) this.#scheduleDial(peer);
      },
      onTransport: (_c, what) => {
        const n = this.connectionCounts;
        if (what === "dial") n.dials++;
        else if (what === "dial-failed") n.dialsFailed++;
        else n.dialsAbandoned++;
      },
      onState: (_c, state) => {
        if (state === "OpenSent" || state === "OpenConfirm" || state === "Established") peer.reached = true;
        this.o.onEvent?.({ event: "state", peer: peer.config.address, state });
      },
    };
  }

  /**
   * RFC 4271 §6.8 collision detection: with two connections to one peer, keep the one opened by
   * the side with the higher BGP Identifier; a connection to an Established peer is refused.
   */
  #onOpen(peer: Peer, c: BgpConnection, open: OpenMessage): { code: number; subcode: number } | undefined {
    if (open.bgpId === this.o.routerId && peer.config.asn === this.o.asn)
      return { code: BgpError.Open, subcode: OpenSubcode.BadBgpIdentifier };
    for (const other of peer.connections) {
      if (other === c) continue;
      if (other.state === "Established") {
        // RFC 4724 §4.2: a graceful-restart peer that connects anew while its session looks up has
        // restarted: the old session goes as if its TCP connection had failed; the new one proceeds.
        if (!(this.#gr && peer.terms && peer.established === other)) {
          this.#countCollision(c, other);
          return collision;
        }
        other.closeQuietly("the peer reconnected: it restarted (graceful restart)", "transport");
        continue;
      }
      if (other.state !== "OpenSent" && other.state !== "OpenConfirm") continue;
      const keepOutbound = ipv4ToNumber(this.o.routerId) > ipv4ToNumber(open.bgpId);
      const keepThis = (c.direction === "outbound") === keepOutbound;
      this.#countCollision(c, other);
      if (!keepThis) return collision;
      other.abort(collision, "collision: the other connection stays");
    }
    return undefined;
  }

  #countCollision(c: BgpConnection, other: BgpConnection): void {
    const n = this.connectionCounts.collisions;
    if (other.state === "Established") n.established++;
    else if (c.direction === other.direction) n.sameDirection++;
    else n.crossed++;
  }

  #onUpdate(peer: Peer, c: BgpConnection, u: UpdateMessage): void {
    if (peer.established !== c) return;
    this.updatesReceived++;
    const eor = endOfRibFamily(u);
    if (eor) {
      this.#onEndOfRib(peer, familyKey(eor));
      return;
    }
    // RFC 7606 outcomes (RFC 4271 §6.3 for a bad NEXT_HOP): logged and counted, never a reset.
    for (const o of u.outcomes ?? []) {
      this.o.onEvent?.({
        event: "update-error",
        peer: peer.config.address,
        action: o.action,
        attribute: o.attribute,
        reason: o.reason,
        prefixes: u.nlri.length + (u.attributes.mpReach?.nlri.length ?? 0),
      });
    }
    if (u.outcomes?.some((o) => o.action === "treat-as-withdraw")) peer.treatedAsWithdraw++;
    const { updates, ignored } = receivedFamilies(u, c.negotiated);
    for (const i of ignored) this.#familyIgnored(peer, i);
    let changes: BestChange[] = [];
    let refused: { prefix: Prefix; reason: string }[] = [];
    for (const part of updates) {
      const received = this.#rib.receive(peer.info, part);
      if (changes.length === 0) changes = received;
      else for (const ch of received) changes.push(ch);
      if (refused.length === 0) refused = this.#rib.refusedByLastReceive;
      else refused.push(...this.#rib.refusedByLastReceive);
    }
    if (refused.length > 0) {
      peer.rejectedTotal += refused.length;
      this.o.onEvent?.({
        event: "rejected-routes",
        peer: peer.config.address,
        prefixes: refused.slice(0, 5),
        count: refused.length,
      });
    }
    // Refused routes are held too (a policy change may admit them): they count toward the limit.
    const held = this.#rib.prefixCount(peer.info.id) + this.#rib.rejected(peer.info.id).size;
    const over = maxPrefixNotification(held, peer.config.maxPrefixes);
    this.#queue(changes);
    if (over) c.abort(over, `more than ${peer.config.maxPrefixes} prefixes`);
  }

  /** Count a part of an UPDATE ignored for its family; tell the first of each family per session. */
  #familyIgnored(peer: Peer, i: IgnoredFamily): void {
    peer.ignoredFamilyCount++;
    if (peer.ignoredFamilies.has(i.family)) return;
    peer.ignoredFamilies.add(i.family);
    this.o.onEvent?.({ event: "family-ignored", peer: peer.config.address, ...i });
  }

  /** A link-local next hop is reachable only out of the device of the session it was learned on. */
  #linkLocalDevice(path: Path, nextHop: string): string | undefined {
    if (!/^fe[89ab][0-9a-f]:/i.test(nextHop) || !path.from) return undefined;
    return this.#peers.get(path.from.id)?.link?.dev;
  }

  /** The new session's graceful-restart terms; a returned peer's stale routes go or await its End-of-RIB. */
  #restartTermsOnEstablished(peer: Peer, c: BgpConnection): void {
    peer.terms = this.#gr ? peerRestartTerms(c.remoteOpen?.capabilities ?? []) : undefined;
    peer.families = negotiatedFamilies(c.negotiated);
    peer.endOfRib.clear();
    peer.endOfRibSent = false;
    clearTimeout(peer.restartTimer);
    peer.restartTimer = undefined;
    if (peer.staleFamilies.size === 0) return;
    const { flush, awaitEndOfRib } = onReestablished(peer.terms, [...peer.staleFamilies]);
    if (flush.length > 0)
      this.#sweep(peer, flush, "the new session keeps no forwarding state for the family");
    if (awaitEndOfRib.length === 0) return;
    const seconds = (this.o.gracefulRestart ? this.o.gracefulRestart.stalePathSeconds : undefined) ?? 360;
    clearTimeout(peer.staleTimer);
    peer.staleTimer = setTimeout(
      () => this.#sweep(peer, [...peer.staleFamilies], "no End-of-RIB within the stale-path time"),
      seconds * 1000,
    );
  }

  /** A session that was up ended: its routes go, or stay stale for its restart time (RFC 4724 §4.2). */
  #sessionLost(peer: Peer, c: BgpConnection): void {
    clearTimeout(peer.staleTimer);
    peer.staleTimer = undefined;
    const keep =
      this.#stopped || peer.removed
        ? { keep: false as const }
        : onSessionEnd(peer.terms, c.end, peer.families, c.notificationNegotiated);
    if (!keep.keep) {
      peer.staleFamilies.clear();
      clearTimeout(peer.restartTimer);
      this.#queue(this.#rib.dropPeer(peer.info.id));
      return;
    }
    const families = new Set(keep.families);
    const inFamilies = (p: Prefix) => families.has(familyKey(familyOfPrefix(p)));
    // Routes of families it did not list go now; the rest are kept (installed, exported) but stale.
    this.#rib.markStale(peer.info.id);
    this.#queue(this.#rib.sweepStale(peer.info.id, (p) => !inFamilies(p)));
    for (const f of families) peer.staleFamilies.add(f);
    this.o.onEvent?.({
      event: "routes-stale",
      peer: peer.config.address,
      routes: this.#rib.staleCount(peer.info.id),
      restartSeconds: keep.restartSeconds,
    });
    clearTimeout(peer.restartTimer);
    peer.restartTimer = setTimeout(
      () => this.#sweep(peer, [...peer.staleFamilies], "restart time expired"),
      keep.restartSeconds * 1000,
    );
  }

  /** Remove the peer's routes still stale in these families. */
  #sweep(peer: Peer, families: readonly string[], reason: string): void {
    const which = new Set(families);
    const before = this.#rib.staleCount(peer.info.id);
    this.#queue(this.#rib.sweepStale(peer.info.id, (p) => which.has(familyKey(familyOfPrefix(p)))));
    for (const f of families) peer.staleFamilies.delete(f);
    if (peer.staleFamilies.size === 0) {
      clearTimeout(peer.staleTimer);
      clearTimeout(peer.restartTimer);
    }
    const routes = before - this.#rib.staleCount(peer.info.id);
    this.o.onEvent?.({ event: "stale-swept", peer: peer.config.address, routes, reason });
  }

  #onEndOfRib(peer: Peer, family: string): void {
    peer.endOfRib.add(family);
    this.o.onEvent?.({ event: "end-of-rib", peer: peer.config.address, family });
    if (peer.staleFamilies.has(family)) this.#sweep(peer, [family], `End-of-RIB for ${family}`);
    this.#checkDeferral();
  }

  /** Our End-of-RIB for every family of the session, after the initial table (RFC 4724 §2; sent also to peers without the capability). */
  #sendEndOfRib(peer: Peer, c: BgpConnection): void {
    peer.endOfRibSent = true;
    c.sendRaw(endOfRibUpdates(c));
  }

  #queue(changes: readonly BestChange[]): void {
    for (const ch of changes) this.#out.mark(ch.prefix, ch.kind === "best" ? ch.path : undefined);
    if (this.#deferring) return; // route selection waits for End-of-RIB (RFC 4724 §4.1)
    if (this.#flushQueued || this.#out.pending === 0) return;
    // At once when idle (a single change is not held back); under load, everything that arrived
    // in one turn of the event loop — every socket read — leaves in one batch.
    this.#flushQueued = true;
    setImmediate(() => this.#flush());
  }

  /** What decides a route's exported attributes and encoding on this session, besides the route. */
  #viewKey(peer: Peer, c: BgpConnection): string {
    // Written once per session, link, peer info and config (a flush asks for every peer).
    const k = this.#viewKeys.get(c);
    if (k && k.link === peer.link && k.info === peer.info && k.config === peer.config) return k.key;
    const n = c.negotiated;
    const key = `${peer.info.ibgp}|${peer.config.nextHopSelf === true}|${c.localAddress}|${n.fourOctetAs}|${n.ipv4Unicast}|${n.ipv6Unicast}|${n.ipv4ViaIpv6}|${peer.link?.linkLocal}|${peer.link?.global6}`;
    this.#viewKeys.set(c, { link: peer.link, info: peer.info, config: peer.config, key });
    return key;
  }
  readonly #viewKeys = new WeakMap<
    BgpConnection,
    { link: Peer["link"]; info: Peer["info"]; config: Peer["config"]; key: string }
  >();

  /**
   * The attributes `peer` gets for `path`, NEXT_HOP rewritten to us where the rules say so, and
   * which of its families can go out on this session: negotiated (RFC 4760) and with a next hop.
   * One shared object per source attribute set, source and export view.
   */
  #exported(path: Path, peer: Peer, c: BgpConnection, view: string): Exported {
    let byView = this.#exports.get(path.attributes);
    if (!byView) {
      byView = new Map();
      this.#exports.set(path.attributes, byView);
    }
    const from = path.from;
    const key = `${from ? `${from.id}|${from.routerId}|${from.ibgp}|${from.rrClient}` : ""}|${view}`;
    const known = byView.get(key);
    if (known) return known;
    const a = exportAttributes(this.#local, path, peer.info);
    const self = !peer.info.ibgp || peer.config.nextHopSelf === true || !path.from;
    const { v4, v4Via6, v6 } = exportNextHops({
      self,
      ipv4ViaIpv6: c.negotiated.ipv4ViaIpv6,
      linkLocal: peer.config.linkLocalNextHop ? peer.link?.linkLocal : undefined,
      originated: !path.from,
      attributes: { ...path.attributes, nextHop: a.nextHop },
      sessionAddress: c.localAddress,
      ipv4: this.o.nextHop,
      // Unconfigured: our global IPv6 address on the session's interface (per session, as FRR).
      ipv6: this.o.ipv6NextHop ?? peer.link?.global6,
    });
    const { nextHop: _nh, ...rest } = a;
    const exported: Exported = {
      attrs: Object.freeze({
        ...rest,
        ...(v4 ? { nextHop: v4 } : {}),
        mpReach: undefined,
        mpUnreach: undefined,
      }),
      v4,
      v4Via6,
      v6,
    };
    byView.set(key, exported);
    return exported;
  }

  /** Tell once per session that a negotiated family cannot be sent for want of a next hop. */
  #unsendable(peer: Peer, family: "ipv4" | "ipv6"): void {
    if (peer.unsendable.has(family)) return;
    peer.unsendable.add(family);
    this.o.onEvent?.({
      event: "unsendable",
      peer: peer.config.address,
      family,
      reason:
        family === "ipv4"
          ? "no IPv4 next hop for this session (it runs over IPv6): configure the speaker's IPv4 next hop, or negotiate extended next hops (RFC 8950)"
          : "no IPv6 next hop for this session (it runs over IPv4): configure the speaker's IPv6 next hop, or give the session's interface a global IPv6 address",
    });
  }

  /** The UPDATEs that announce one group on this session, encoded once per export view. */
  #encode(
    cache: Map<OutGroup, Map<string, Encoded>>,
    g: OutGroup,
    peer: Peer,
    c: BgpConnection,
    view: string,
  ): Uint8Array[] {
    let byView = cache.get(g);
    if (!byView) {
      byView = new Map();
      cache.set(g, byView);
    }
    let e = byView.get(view);
    if (!e) {
      const { attrs, v4, v4Via6, v6 } = this.#exported(g.path, peer, c, view);
      const prefixes = g.prefixes.filter((p) => familyNegotiated(c.negotiated, p));
      const hasV6 = prefixes.some(isV6);
      const hasV4 = prefixes.some((p) => !isV6(p));
      const hasV4Hop = v4 !== undefined || v4Via6 !== undefined;
      const sendable = prefixes.filter((p) => (isV6(p) ? v6 !== undefined : hasV4Hop));
      e = {
        bufs: announceUpdates(attrs, sendable, c.codecContext, v6, v4Via6),
        noV6: hasV6 && !v6,
        noV4: hasV4 && !hasV4Hop,
      };
      byView.set(view, e);
    }
    if (e.noV6) this.#unsendable(peer, "ipv6");
    if (e.noV4) this.#unsendable(peer, "ipv4");
    return e.bufs;
  }

  /** Everything we advertise that `peer` should have (session up, or a ROUTE-REFRESH). */
  #sendTable(peer: Peer, c: BgpConnection, o: { endOfRib?: boolean } = {}): void {
    const view = this.#viewKey(peer, c);
    const bufs: Uint8Array[] = [];
    const { groups, cache } = this.#tableFor(peer);
    for (const g of groups) bufs.push(...this.#encode(cache, g, peer, c, view));
    if (o.endOfRib) {
      peer.endOfRibSent = true;
      bufs.push(...endOfRibUpdates(c));
    }
    // The table and End-of-RIB in one write: a mesh node among 200 comes up with 199 sessions.
    c.sendRaw(bufs);
  }

  /**
   * The groups `peer`'s table holds, and the encodings cache they go through. The iBGP peers of a
   * speaker that does not reflect all get one table: it is grouped once and encoded once per export
   * view until it changes (a full-mesh node among 200 sent the same route to 199 new sessions).
   */
  #tableFor(peer: Peer): { groups: OutGroup[]; cache: Map<OutGroup, Map<string, Encoded>> } {
    if (!this.#out.sameForEveryIbgpPeer(peer.info))
      return { groups: this.#out.table(peer.info), cache: new Map() };
    const version = this.#out.tableVersion;
    if (this.#sharedTable?.version !== version)
      this.#sharedTable = { version, groups: this.#out.table(peer.info), cache: new Map() };
    return this.#sharedTable;
  }
  #sharedTable:
    | { version: number; groups: OutGroup[]; cache: Map<OutGroup, Map<string, Encoded>> }
    | undefined;

  /**
   * Send what changed since the last flush (the Adj-RIB-Out's batch): withdrawals to the peers that
   * had a route and may not have its successor, then each attribute group, packed full, to every
   * peer that may have it — one encoding per group and export view, one write per peer.
   */
  #flush(): void {
    this.#flushQueued = false;
    const up = [...this.#peers.values()].filter((p) => p.established);
    // Per-prefix changes only for someone who follows them (the kernel, a log of routes).
    const batch = this.#out.drain(
      up.map((p) => p.info),
      { changes: this.o.onRoutes !== undefined },
    );
    const routes: LearnedRouteChange[] = [];
    for (const { prefix, old, now } of batch.changes) {
      const oldNh = old?.from && pathNextHop(prefix, old);
      const newNh = now?.from && pathNextHop(prefix, now);
      if (oldNh !== newNh) {
        const dev = now && newNh ? this.#linkLocalDevice(now, newNh) : undefined;
        routes.push({
          prefix,
          nextHop: newNh || undefined,
          attributes: newNh ? now?.attributes : undefined,
          ...(dev ? { dev } : {}),
        });
      }
    }
    const cache = new Map<OutGroup, Map<string, Encoded>>();
    // Only iBGP-learned routes changed and we do not reflect: no iBGP peer gets any of them (a
    // full-mesh node among 200 learns 199 routes, each flush was 199 peers looked at for nothing).
    const ibgpGetsSome = this.#local.clusterId !== undefined || batch.groups.some((g) => !g.path.from?.ibgp);
    for (const peer of up) {
      if (peer.info.ibgp && !ibgpGetsSome && !batch.withdraw.has(peer.info.id)) continue;
      const c = peer.established as BgpConnection;
      const bufs: Uint8Array[] = [];
      const w = batch.withdraw.get(peer.info.id)?.filter((p) => familyNegotiated(c.negotiated, p));
      if (w?.length) bufs.push(...withdrawUpdates(w, c.codecContext));
      const view = this.#viewKey(peer, c);
      for (const g of this.#out.groupsFor(peer.info, batch.groups))
        bufs.push(...this.#encode(cache, g, peer, c, view));
      c.sendRaw(bufs);
    }
    if (routes.length > 0) this.o.onRoutes?.(routes);
  }
}

/** A route's attributes as one export view sends them, and the next hops its families get. */
interface Exported {
  readonly attrs: PathAttributes;
  readonly v4?: string;
  /** IPv4 routes go in MP_REACH_NLRI with these IPv6 next hops (RFC 8950). */
  readonly v4Via6?: readonly string[];
  readonly v6?: readonly string[];
}

/** One group's UPDATEs for one export view, and whether a family was left out for want of a next hop. */
interface Encoded {
  readonly bufs: Uint8Array[];
  readonly noV6: boolean;
  readonly noV4: boolean;
}

/** End-of-RIB for every family the session negotiated (RFC 4724 §2). */
function endOfRibUpdates(c: BgpConnection): Uint8Array[] {
  return negotiatedFamilies(c.negotiated).map((k) => {
    const [afi, safi] = k.split("/").map(Number);
    return encodeMessage(endOfRib({ afi: afi ?? 1, safi: safi ?? 1 }), c.codecContext);
  });
}
