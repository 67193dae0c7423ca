import { setTimeout as sleep } from "node:timers/promises";
import { bgpKernelRoute, type ConnectedNetwork } from "../../bgp/speaker/kernel-route.js";
import { BgpSpeaker, type LearnedRouteChange, type SpeakerEvent } from "../../bgp/speaker/speaker.js";
import type { BgpConfigView } from "../../cluster/bgp-config.js";
import { isIpv6OnlyLease, leaseFamilies, type NodeLease } from "../../cluster/node-lease.js";
import { contains } from "../../common/cidr.js";
import { CoalescingRunner } from "../../common/coalescing-runner.js";
import { netnsPath, type Route } from "../../kernel/api.js";
import { observeRoutes } from "../../kernel/desired/observe.js";
import { DesiredRoutes } from "../../kernel/desired/route-set.js";
import type { Backend, BackendContext, BackendDesiredState, LocalNode } from "../api.js";
import { addressesNotAlive, type BgpTopology, clusterPeers } from "./bgp-peers.js";
import { buildClusterPolicy, type ClusterPolicy } from "./cluster-import.js";
import { LeasedSubnets, leasedSubnets, leaseOwner } from "./leased-subnets.js";
import { type InterfaceTable, interfacesFromAddresses } from "./netns-interfaces.js";
import { policyScope } from "./policy-scope.js";
import { preservedRoutes } from "./preserved-routes.js";
import { nodeRouterId } from "./router-id.js";

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
  /** The datastore's cluster BGP config (it overrides routeReflectors while set), followed live. */
  readonly config?: (signal: AbortSignal) => AsyncIterable<BgpConfigView>;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The node's underlay networks: where a BGP next hop must be to get a route (no recursion). */
const underlayNetworks = (local: LocalNode): ConnectedNetwork[] => [
  { dev: local.underlayDev, cidr: `${local.lease.publicIp}/${local.lease.publicPrefix}` },
  ...(local.underlayCidr6 ? [{ dev: local.underlayDev, cidr: local.underlayCidr6 }] : []),
];

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
  /**
   * What the import policy was last built from: a lease change runs only the routes it may judge
   * differently through the new one (policyScope), none when the leases are the same objects.
   */
  #policy: ClusterPolicy | undefined;
  /** The external peers with an import= list of their own (the options', fixed). */
  readonly #externalWithList: ReadonlySet<string>;
  /** The speaker's learned routes (best paths from peers): prefix → next hop. */
  readonly #learned = new Map<string, string>();
  /** Other nodes' leased subnets → their lease, and owner ("node address"), followed by lease identity. */
  readonly #leased = new LeasedSubnets();
  /** The node the routes were last refreshed for (another one: every route again). */
  #refreshedFor: LocalNode | undefined;
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
  /** The reflectors in force: the datastore's config while it is set and valid, else the flags'. */
  #reflectors: readonly string[];
  /** Where #reflectors came from, for /healthz (and why a datastore config was refused). */
  #topologySource: { from: "flags" | "datastore"; refused?: string } = { from: "flags" };
  /** The leases peersChanged was last given (a topology change recomputes the peers from them). */
  #lastPeers: { local: LocalNode; peers: readonly NodeLease[] } | undefined;

  constructor(private readonly o: BgpBackendOptions) {
    this.#reflectors = o.routeReflectors;
    this.#externalWithList = new Set(o.external.filter((p) => p.importList).map((p) => p.address));
  }

  podMtu(underlayMtu: number): number {
    return underlayMtu;
  }

  localBackendData(): Readonly<Record<string, string>> {
    return { bgpAsn: String(this.o.asn) };
  }

  async start(ctx: BackendContext): Promise<void> {
    this.#local = ctx.local;
    const lease = ctx.local.lease;
    this.#localAddress = lease.publicIp;
    const gr = this.o.gracefulRestart;
    if (gr !== false) {
      // Our own BGP routes still in the kernel: this is a restart and forwarding went on meanwhile.
      const observed = await observeRoutes(ctx.kernel, ctx.netns, leaseFamilies(lease));
      for (const [dst, via] of preservedRoutes(
        observed,
        ctx.local.underlayDev,
        lease.subnet,
        lease.subnet6,
      )) {
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
    // The datastore's topology, if any, before the first session: no flap at start.
    let views: AsyncIterator<BgpConfigView> | undefined;
    try {
      views = this.o.config?.(ctx.signal)[Symbol.asyncIterator]();
      const first = await views?.next();
      if (first && !first.done) this.#takeConfig(first.value);
    } catch (err) {
      views = undefined; // the flags apply until the follower below reads it
      this.#topologySource = { from: "flags", refused: `datastore unreadable: ${errorText(err)}` };
    }
    // Run for another namespace (an agent host): node:os sees only this process's interfaces, so
    // the speaker reads the node's from the kernel (now, and again at each session change).
    if (netnsPath(ctx.netns)) await this.#readInterfaces(ctx);
    this.#speaker = this.#newSpeaker(ctx, restarting);
    await this.#speaker.start(this.o.external);
    if (this.o.config) void this.#followConfig(this.o.config, views, ctx);
  }

  /** The node's interfaces as read from its namespace (set only when the agent runs for another one). */
  #interfaces: InterfaceTable | undefined;
  /**
   * Session changes ask for a fresh read; those that come while one runs share the next one: a
   * mesh agent among 100 saw 99 sessions come up, and read its addresses 99 times.
   */
  #interfaceReads: CoalescingRunner | undefined;

  async #readInterfaces(ctx: BackendContext): Promise<void> {
    try {
      this.#interfaces = interfacesFromAddresses(await ctx.kernel.addresses(ctx.netns));
    } catch (err) {
      ctx.logger.warn({ err: errorText(err) }, "cannot read the node's interfaces (BGP session links)");
    }
  }

  /** A speaker for this node's role now; `restarting`: RFC 4724 restarting speaker (forwarding kept). */
  #newSpeaker(ctx: BackendContext, restarting: boolean): BgpSpeaker {
    const lease = ctx.local.lease;
    const policy = this.#clusterPolicy(lease, this.#lastPeers ? this.#allLeases(this.#lastPeers) : [lease]);
    this.#policy = policy;
    const reflector = this.#reflectors.includes(lease.node);
    const gr = this.o.gracefulRestart;
    // IPv6-only: sessions run over IPv6 between the nodes' IPv6 addresses, IPv6 unicast negotiated
    // (IPv4 unicast too, empty: nothing IPv4 is originated or accepted from a node).
    const only6 = isIpv6OnlyLease(lease);
    const ns = netnsPath(ctx.netns);
    const speaker: BgpSpeaker = new BgpSpeaker({
      asn: this.o.asn,
      routerId: nodeRouterId(lease),
      clusterId: reflector ? this.o.clusterId : undefined,
      holdTime: this.o.holdTime,
      connectRetrySeconds: this.o.connectRetrySeconds,
      listen: { host: lease.publicIp, port: this.o.port },
      localAddress: lease.publicIp,
      ...(ns ? { netnsPath: ns, interfaces: () => this.#interfaces ?? {} } : {}),
      ...(only6 ? { ipv6NextHop: lease.publicIp } : { nextHop: lease.publicIp }),
      // Dual stack: IPv6 unicast is negotiated on every session (RFC 4760 multiprotocol, over the
      // IPv4 transport), and this node's IPv6 pod subnet goes out via its global IPv6 address.
      ...(lease.subnet6 && lease.publicIp6 ? { ipv6NextHop: lease.publicIp6 } : {}),
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
        // Read again only for a session from an address the table does not have (the node's
        // addresses changed): a mesh agent among 200 saw 199 sessions come up, each a read.
        if (ns && e.event === "established" && !hasAddress(this.#interfaces, e.local)) {
          this.#interfaceReads ??= new CoalescingRunner(
            () => this.#readInterfaces(ctx),
            () => {}, // #readInterfaces logs its own failure
          );
          void this.#interfaceReads.trigger();
        }
        this.o.onEvent?.(e);
      },
      onRoutes: (changes) => {
        if (speaker !== this.#speaker) return; // a speaker being replaced (a topology change)
        this.#learnedChanged(changes);
        ctx.onChange();
      },
      importPolicy: policy.policy,
    });
    for (const subnet of leasedSubnets(lease)) speaker.originate(subnet);
    return speaker;
  }

  /** Take a datastore view; true when the reflectors in force changed. */
  #takeConfig(view: BgpConfigView): boolean {
    const before = this.#reflectors;
    if (view.kind === "set") {
      this.#topologySource = { from: "datastore" };
      this.#reflectors = view.config.routeReflectors;
    } else {
      this.#topologySource =
        view.kind === "invalid" ? { from: "flags", refused: view.error } : { from: "flags" };
      this.#reflectors = this.o.routeReflectors;
    }
    return before.join(",") !== this.#reflectors.join(",");
  }

  /**
   * Follow the datastore's topology live (`strata bgp route-reflectors`): a node whose own role
   * changes (it becomes a reflector, or stops being one) replaces its speaker — the cluster id and
   * every session's client flag change; every node recomputes its sessions and import policy. The
   * kernel keeps every leased subnet's route meanwhile (retention below), so no packet waits on
   * the new sessions.
   */
  async #followConfig(
    config: (signal: AbortSignal) => AsyncIterable<BgpConfigView>,
    first: AsyncIterator<BgpConfigView> | undefined,
    ctx: BackendContext,
  ): Promise<void> {
    let views = first;
    while (!ctx.signal.aborted) {
      try {
        views ??= config(ctx.signal)[Symbol.asyncIterator]();
        for (let v = await views.next(); !v.done; v = await views.next()) {
          const wasReflector = this.#reflectors.includes(ctx.local.lease.node);
          if (!this.#takeConfig(v.value) || ctx.signal.aborted) continue;
          if (wasReflector !== this.#reflectors.includes(ctx.local.lease.node))
            await this.#replaceSpeaker(ctx);
          this.#policy = undefined; // every route through the new policy
          if (this.#lastPeers) this.peersChanged(this.#lastPeers.local, this.#lastPeers.peers);
          ctx.onChange();
        }
      } catch (err) {
        if (ctx.signal.aborted) return;
        this.#topologySource = {
          ...this.#topologySource,
          refused: `datastore watch failed: ${errorText(err)}`,
        };
      }
      views = undefined; // the watch ended or failed (a datastore outage): start again shortly
      await sleep(1000, undefined, { signal: ctx.signal }).catch(() => undefined);
    }
  }

  async #replaceSpeaker(ctx: BackendContext): Promise<void> {
    const old = this.#speaker;
    // As in a graceful restart: the old speaker leaves without a NOTIFICATION (peers keep our
    // routes, stale) and the new one comes back with forwarding preserved (the kernel kept it).
    this.#speaker = this.#newSpeaker(ctx, this.o.gracefulRestart !== false);
    await old?.stop({ graceful: true });
    // What the old speaker learned is gone with it; leased subnets keep their routes (#retained).
    const prefixes = [...this.#learned.keys()];
    this.#learned.clear();
    for (const p of prefixes) this.#refresh(p);
    await this.#speaker.start(this.o.external);
  }

  #allLeases(p: { local: LocalNode; peers: readonly NodeLease[] }): NodeLease[] {
    return [p.local.lease, ...p.peers];
  }

  /** The preserved routes give way to BGP's (what it re-learned replaced them already). */
  #dropPreserved(ctx: BackendContext): void {
    // A kept route BGP did not confirm because its owner has not spoken yet — its session is not
    // up, or it is restarting too (R bit) and sends nothing before its own selection, which RFC
    // 4724 §4.1 does not wait for — is retained, as the routes of a session that went down are:
    // until it announces the subnet again or its lease goes. Left to go, nodes restarted together
    // lost their routes to each other for seconds (the 100-node mesh, 10 agents restarted at once:
    // 9-35 routes missing in a sweep).
    const waiting = new Set(
      (this.#speaker?.sessions() ?? [])
        .filter(
          (s) =>
            s.state !== "Established" ||
            (s.gracefulRestart.peerRestarting === true && s.gracefulRestart.endOfRibReceived.length === 0),
        )
        .map((s) => s.peer),
    );
    // A subnet whose owner is no peer of ours comes reflected: from any reflector we peer with. One
    // of them still waited for (restarting too, or its session not up) keeps those routes as well.
    // Left to go, a client restarted with its reflector restarting (or saying R) lost the route to
    // every other client until the reflector's table came (1 reflector, 50 nodes: 48 at each).
    const reflectorWaiting = this.#reflectorAddresses().some((a) => waiting.has(a));
    for (const [prefix, via] of this.#preserved) {
      const l = this.#leased.lease(prefix);
      if (!l || this.#learned.has(prefix) || this.#retained.has(prefix)) continue;
      const addresses = [l.publicIp, ...(l.publicIp6 ? [l.publicIp6] : [])];
      const reflected = addresses.every((a) => this.#speaker?.sessionState(a) === undefined);
      if (
        addresses.includes(via) &&
        (addresses.some((a) => waiting.has(a)) || (reflected && reflectorWaiting))
      )
        this.#retained.set(prefix, { nextHop: via, owner: leaseOwner(l) });
    }
    const prefixes = [...this.#preserved.keys()];
    this.#preserved.clear();
    for (const p of prefixes) this.#refresh(p);
    ctx.logger.info({ routes: prefixes.length }, "BGP graceful restart: route selection done");
    ctx.onChange();
  }

  /** The session addresses of the reflectors this node peers with (none in a full mesh). */
  #reflectorAddresses(): string[] {
    const self = this.#local?.lease.node;
    return (this.#lastPeers?.peers ?? [])
      .filter((p) => p.node !== self && this.#reflectors.includes(p.node))
      .flatMap((p) => [p.publicIp, ...(p.publicIp6 ? [p.publicIp6] : [])]);
  }

  /** The speaker's changes: the learned set, retention of leased subnets, and those prefixes' routes. */
  #learnedChanged(changes: readonly LearnedRouteChange[]): void {
    for (const c of changes) {
      if (c.nextHop) {
        this.#learned.set(c.prefix, c.nextHop);
        const o = this.#leased.owner(c.prefix);
        if (o) this.#retained.set(c.prefix, { nextHop: c.nextHop, owner: o });
      } else this.#learned.delete(c.prefix);
      this.#refresh(c.prefix);
    }
  }

  peersChanged(local: LocalNode, peers: readonly NodeLease[], alive?: ReadonlySet<string>): void {
    this.#local = local;
    this.#lastPeers = { local, peers };
    const all = [local.lease, ...peers];
    if (this.#speaker) {
      const policy = this.#clusterPolicy(local.lease, all);
      const scope = policyScope(this.#policy, policy);
      this.#policy = policy;
      if (scope !== "none") this.#speaker.setImportPolicy(policy.policy, scope === "all" ? undefined : scope);
    }
    // A node whose agent is not known alive yet may not listen yet: its first dial waits for
    // peersAlive (dialNow) instead of a SYN it would drop.
    this.#speaker?.setPeers(
      clusterPeers(local.lease, all, { ...this.o, routeReflectors: this.#reflectors }),
      {
        held: addressesNotAlive(peers, alive),
      },
    );
    const touched = this.#leased.update(peers);
    if (touched && this.#refreshedFor === local) {
      // Only the subnets whose holder changed: elsewhere retention and preservation are as the
      // last call left them (a learned route of a leased subnet is retained as it is learned,
      // #learnedChanged), so their routes are too.
      for (const prefix of touched) {
        const o = this.#leased.owner(prefix);
        const nextHop = this.#learned.get(prefix);
        if (o && nextHop) this.#retained.set(prefix, { nextHop, owner: o });
        const r = this.#retained.get(prefix);
        if (r && r.owner !== o) this.#retained.delete(prefix);
        if (!o) this.#preserved.delete(prefix);
        this.#refresh(prefix);
      }
      return;
    }
    this.#refreshedFor = local;
    for (const [prefix, nextHop] of this.#learned) {
      const o = this.#leased.owner(prefix);
      if (o) this.#retained.set(prefix, { nextHop, owner: o });
    }
    // A retained route goes with its lease (node removed, lease expired) or when the subnet
    // changes hands; a session that announces the prefix again replaces it.
    for (const [prefix, r] of this.#retained)
      if (this.#leased.owner(prefix) !== r.owner) this.#retained.delete(prefix);
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

  /** Their agents are alive again, so their speakers listen: dial them now, not after a back-off. */
  peersAlive(peers: readonly NodeLease[]): void {
    for (const p of peers) {
      this.#speaker?.dialNow(p.publicIp);
      if (p.publicIp6) this.#speaker?.dialNow(p.publicIp6);
    }
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
      local && nextHop && !leasedSubnets(local.lease).includes(prefix)
        ? this.#kernelRoute(local, prefix, nextHop)
        : undefined;
    if (r && "route" in r) this.#routes.set(r.route);
    else this.#routes.delete(prefix);
  }

  /**
   * bgpKernelRoute for this node's underlay, remembered by prefix and next hop while the node is
   * the same: a lease change refreshes every prefix (200 in a 200-node mesh, at each change).
   */
  #kernelRoutes: { local: LocalNode; byHop: Map<string, ReturnType<typeof bgpKernelRoute>> } | undefined;
  #kernelRoute(local: LocalNode, prefix: string, nextHop: string): ReturnType<typeof bgpKernelRoute> {
    if (this.#kernelRoutes?.local !== local) this.#kernelRoutes = { local, byHop: new Map() };
    const key = `${prefix} ${nextHop}`;
    let r = this.#kernelRoutes.byHop.get(key);
    if (!r) {
      r = bgpKernelRoute(prefix, nextHop, underlayNetworks(local));
      // Bounded: prefixes and next hops come from peers (a flood of them is refused by policy and
      // max-prefix limits, but nothing here should grow without end).
      if (this.#kernelRoutes.byHop.size >= 8192) this.#kernelRoutes.byHop.clear();
      this.#kernelRoutes.byHop.set(key, r);
    }
    return r;
  }

  #clusterPolicy(self: NodeLease, all: readonly NodeLease[]): ClusterPolicy {
    return buildClusterPolicy(self, all, {
      routeReflectors: this.#reflectors,
      externalWithList: this.#externalWithList,
    });
  }

  takeRouteChanges(): ReadonlyMap<string, Route | undefined> {
    return this.#routes.takeChanges();
  }

  desired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState {
    const unreachable: { node: string; reason: string }[] = [];
    const ownNet = `${local.lease.publicIp}/${local.lease.publicPrefix}`;
    // A peer whose subnet we have no route to: name why (mesh across a router needs the router to peer).
    for (const p of peers) {
      if (this.#routes.get(p.subnet)) {
        // Dual stack: both ends have IPv6 and the IPv4 route is there, the IPv6 one is not (yet).
        if (p.subnet6 && local.lease.subnet6 && !this.#routes.get(p.subnet6))
          unreachable.push({ node: p.node, reason: `no BGP route to its IPv6 subnet ${p.subnet6} yet` });
        continue;
      }
      // The one session's state, not every session's status (N² while a mesh comes up).
      const state = this.#speaker?.sessionState(p.publicIp);
      const behindRouter = !contains(ownNet, p.publicIp);
      unreachable.push({
        node: p.node,
        reason:
          behindRouter && this.o.external.length === 0
            ? `no BGP route to ${p.subnet}: ${p.publicIp} is behind a router; peer with the router (--bgp-peer) so it passes routes on`
            : `no BGP route to ${p.subnet} yet (session ${state ?? "not configured"})`,
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
      // What the sessions cost in TCP connections (issue 16: ideally one per session).
      ...(this.#speaker ? { bgpConnections: this.#speaker.connectionCounts } : {}),
      bgpRouteReflectors: this.#reflectors,
      bgpTopologyFrom: this.#topologySource.from,
      ...(this.#topologySource.refused ? { bgpTopologyRefused: this.#topologySource.refused } : {}),
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

/** Does the interface table hold this address (undefined: not known, so no)? */
function hasAddress(table: InterfaceTable | undefined, address: string | undefined): boolean {
  if (!table || address === undefined) return false;
  return Object.values(table).some((addrs) => addrs?.some((a) => a.address === address));
}
