import { bgpKernelRoute, type ConnectedNetwork } from "../../bgp/speaker/kernel-route.js";
import { BgpSpeaker, type LearnedRouteChange, type SpeakerEvent } from "../../bgp/speaker/speaker.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { contains } from "../../common/cidr.js";
import type { Route } from "../../kernel/api.js";
import { DesiredRoutes } from "../../kernel/desired/route-set.js";
import type { Backend, BackendContext, BackendDesiredState, LocalNode } from "../api.js";
import { type BgpTopology, clusterPeers } from "./bgp-peers.js";
import { clusterImportPolicy } from "./cluster-import.js";
import { preservedRoutes } from "./preserved-routes.js";

export interface BgpBackendOptions extends BgpTopology {
  readonly clusterId: string;
  readonly holdTime: number;
  readonly connectRetrySeconds: number;
  /**
   * Graceful restart (RFC 4724): the restart time peers keep our routes for (default 120 s), how
   * long a restart waits for End-of-RIB (default 60 s); `false` turns it off.
   */
  readonly gracefulRestart?:
    | { readonly restartTime?: number; readonly selectionDeferralSeconds?: number }
    | false;
  readonly onEvent?: (e: SpeakerEvent) => void;
}

/** What the import policy depends on: who owns which subnet at which address. */
const leasesKey = (all: readonly NodeLease[]) =>
  all.map((n) => `${n.node} ${n.subnet} ${n.publicIp}`).join("|");

const owner = (p: NodeLease) => `${p.node} ${p.publicIp}`;

/** The node's underlay network: where a BGP next hop must be to get a route (no recursion). */
const underlayNetwork = (local: LocalNode): ConnectedNetwork => ({
  dev: local.underlayDev,
  cidr: `${local.lease.publicIp}/${local.lease.publicPrefix}`,
});

/**
 * Calico-style routed pod networking: each node runs a BGP speaker, announces its pod subnet and
 * installs what it learns (pod subnet via the announcing node, or via the router that passed it
 * on). No encapsulation: pods get the full underlay MTU.
 *
 * The backend keeps its desired routes up to date from the speaker's learned-route changes and
 * from lease changes, and hands the changed destinations on (takeRouteChanges): a BGP UPDATE
 * costs the prefixes it changes, never a walk over the RIB.
 */
export class BgpBackend implements Backend {
  readonly name = "bgp";
  #speaker: BgpSpeaker | undefined;
  #local: LocalNode | undefined;
  /** The leases the import policy was last built from (rebuilt only when they change). */
  #policyKey = "";
  /** The speaker's learned routes (best paths from peers): prefix → next hop. */
  readonly #learned = new Map<string, string>();
  /** Other nodes' leased subnets → their owner ("node address"). */
  #leased = new Map<string, string>();
  /**
   * Routes learned for other nodes' leased subnets, kept when their session goes (the peer's
   * agent was killed or restarts; its kernel still forwards), as long as the same node holds the
   * same lease: RFC 4724 graceful restart's retention, bounded by ownership instead of a timer.
   */
  readonly #retained = new Map<string, { nextHop: string; owner: string }>();
  /**
   * Routes an earlier run of this agent left in the kernel (prefix → next hop), kept while the
   * restarted speaker waits for its peers' End-of-RIB (RFC 4724 §4.1), then replaced by what BGP
   * says; one whose subnet is no other node's lease goes at once.
   */
  readonly #preserved = new Map<string, string>();
  /** The kernel routes wanted now, one per prefix. */
  readonly #routes = new DesiredRoutes();
  /** The address sessions are made from (the lease's public address). */
  #localAddress: string | undefined;

  constructor(private readonly o: BgpBackendOptions) {}

  podMtu(underlayMtu: number): number {
    return underlayMtu;
  }

  localBackendData(): Readonly<Record<string, string>> {
    return { bgpAsn: String(this.o.asn) };
  }

  async start(ctx: BackendContext): Promise<void> {
    const lease = ctx.local.lease;
    this.#local = ctx.local;
    const reflector = this.o.routeReflectors.includes(lease.node);
    this.#localAddress = lease.publicIp;
    const gr = this.o.gracefulRestart;
    if (gr !== false) {
      // Our own BGP routes still in the kernel: this is a restart and forwarding went on meanwhile.
      const observed = await ctx.kernel.routes(ctx.netns, { family: 4 });
      for (const [dst, via] of preservedRoutes(observed, ctx.local.underlayDev, lease.subnet)) {
        this.#preserved.set(dst, via);
        this.#refresh(dst);
      }
    }
    const restarting = gr !== false && this.#preserved.size > 0;
    if (restarting)
      ctx.logger.info(
        { preserved: this.#preserved.size },
        "BGP graceful restart: kernel routes kept until End-of-RIB",
      );
    this.#speaker = new BgpSpeaker({
      asn: this.o.asn,
      routerId: lease.publicIp,
      clusterId: reflector ? this.o.clusterId : undefined,
      holdTime: this.o.holdTime,
      connectRetrySeconds: this.o.connectRetrySeconds,
      listen: { host: lease.publicIp, port: this.o.port },
      localAddress: lease.publicIp,
      nextHop: lease.publicIp,
      gracefulRestart:
        gr === false
          ? false
          : {
              restartTime: gr?.restartTime,
              selectionDeferralSeconds: gr?.selectionDeferralSeconds,
              restarting,
              forwardingPreserved: true,
            },
      onEvent: (e) => {
        // Selection ran (after onRoutes gave the Loc-RIB): what BGP did not confirm goes now.
        if (e.event === "selection-done") this.#dropPreserved(ctx);
        this.o.onEvent?.(e);
      },
      onRoutes: (changes) => {
        this.#learnedChanged(changes);
        ctx.onChange();
      },
      importPolicy: this.#importPolicy(lease, [lease]),
    });
    this.#speaker.originate(lease.subnet);
    await this.#speaker.start(this.o.external);
  }

  /** The preserved routes give way to BGP's (what it re-learned replaced them already). */
  #dropPreserved(ctx: BackendContext): void {
    const prefixes = [...this.#preserved.keys()];
    this.#preserved.clear();
    for (const p of prefixes) this.#refresh(p);
    ctx.logger.info({ routes: prefixes.length }, "BGP graceful restart: route selection done");
    ctx.onChange();
  }

  /** The speaker's changes: the learned set, retention of leased subnets, and those prefixes' routes. */
  #learnedChanged(changes: readonly LearnedRouteChange[]): void {
    for (const c of changes) {
      if (c.nextHop) {
        this.#learned.set(c.prefix, c.nextHop);
        const o = this.#leased.get(c.prefix);
        if (o) this.#retained.set(c.prefix, { nextHop: c.nextHop, owner: o });
      } else this.#learned.delete(c.prefix);
      this.#refresh(c.prefix);
    }
  }

  peersChanged(local: LocalNode, peers: readonly NodeLease[]): void {
    this.#local = local;
    const all = [local.lease, ...peers];
    if (leasesKey(all) !== this.#policyKey)
      this.#speaker?.setImportPolicy(this.#importPolicy(local.lease, all));
    this.#speaker?.setPeers(clusterPeers(local.lease, all, this.o));
    this.#leased = new Map(peers.map((p) => [p.subnet, owner(p)]));
    for (const [prefix, nextHop] of this.#learned) {
      const o = this.#leased.get(prefix);
      if (o) this.#retained.set(prefix, { nextHop, owner: o });
    }
    // A retained route goes with its lease (node removed, lease expired) or when the subnet
    // changes hands; a session that announces the prefix again replaces it.
    for (const [prefix, r] of this.#retained)
      if (this.#leased.get(prefix) !== r.owner) this.#retained.delete(prefix);
    // A preserved route is kept only for a subnet another node leases now.
    const dropped = [...this.#preserved.keys()].filter((prefix) => !this.#leased.has(prefix));
    for (const prefix of dropped) this.#preserved.delete(prefix);
    for (const prefix of new Set([
      ...dropped,
      ...this.#learned.keys(),
      ...this.#retained.keys(),
      ...this.#routedPrefixes(),
    ]))
      this.#refresh(prefix);
  }

  #routedPrefixes(): string[] {
    return this.#routes.list().map((r) => r.dst);
  }

  /** The route for one prefix now: learned beats retained; none for our own subnet. */
  #refresh(prefix: string): void {
    const local = this.#local;
    const nextHop =
      this.#learned.get(prefix) ?? this.#retained.get(prefix)?.nextHop ?? this.#preserved.get(prefix);
    const r =
      local && nextHop && prefix !== local.lease.subnet
        ? bgpKernelRoute(prefix, nextHop, [underlayNetwork(local)])
        : undefined;
    if (r && "route" in r) this.#routes.set(r.route);
    else this.#routes.delete(prefix);
  }

  #importPolicy(self: NodeLease, all: readonly NodeLease[]) {
    this.#policyKey = leasesKey(all);
    return clusterImportPolicy(self, all, {
      routeReflectors: this.o.routeReflectors,
      externalWithList: new Set(this.o.external.filter((p) => p.importList).map((p) => p.address)),
    });
  }

  takeRouteChanges(): ReadonlyMap<string, Route | undefined> {
    return this.#routes.takeChanges();
  }

  desired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState {
    const unreachable: { node: string; reason: string }[] = [];
    const ownNet = underlayNetwork(local).cidr;
    // A peer whose subnet we have no route to: name why (mesh across a router needs the router to peer).
    for (const p of peers) {
      if (this.#routes.get(p.subnet)) continue;
      const s = this.#speaker?.sessions().find((x) => x.peer === p.publicIp);
      const behindRouter = !contains(ownNet, p.publicIp);
      unreachable.push({
        node: p.node,
        reason:
          behindRouter && this.o.external.length === 0
            ? `no BGP route to ${p.subnet}: ${p.publicIp} is behind a router; peer with the router (--bgp-peer) so it passes routes on`
            : `no BGP route to ${p.subnet} yet (session ${s?.state ?? "not configured"})`,
      });
    }
    return { devices: [], addresses: [], routes: this.#routes.list(), neighbours: [], fdb: [], unreachable };
  }

  status(): Record<string, unknown> {
    const sessions = this.#speaker?.sessions() ?? [];
    return {
      bgpAsn: this.o.asn,
      bgpLocalAddress: this.#localAddress,
      bgpSessions: sessions,
      bgpEstablished: sessions.filter((s) => s.state === "Established").length,
      // Routes kept for leased subnets whose session is down (graceful-restart-like retention).
      bgpRetainedRoutes: [...this.#retained.keys()].filter((p) => !this.#learned.has(p)),
      // Graceful restart (RFC 4724): routes of peers kept stale, and this agent's own restart.
      bgpGracefulRestart: {
        enabled: this.o.gracefulRestart !== false,
        restarting: this.#speaker?.deferring ?? false,
        preservedRoutes: this.#preserved.size,
        staleRoutes: this.#speaker?.staleRoutes ?? 0,
      },
      // Routes import policy refused (RFC 4271 §9.1): counted, never installed.
      bgpRejectedRoutes: sessions.reduce((n, s) => n + s.rejectedTotal, 0),
    };
  }

  /**
   * Sessions close without a NOTIFICATION (as a process exit would): the peers keep our routes for
   * the restart time and this node's kernel keeps theirs, so a restarted agent loses nothing.
   */
  async stop(): Promise<void> {
    await this.#speaker?.stop({ graceful: true });
  }
}
