import { BgpSpeaker, type SpeakerEvent } from "../../bgp/speaker/speaker.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { contains } from "../../common/cidr.js";
import type { Route } from "../../kernel/api.js";
import type { Backend, DesiredState, LocalNode } from "../api.js";
import { type BgpTopology, clusterPeers } from "./bgp-peers.js";
import { clusterImportPolicy } from "./cluster-import.js";

export interface BgpBackendOptions extends BgpTopology {
  readonly clusterId: string;
  readonly holdTime: number;
  readonly connectRetrySeconds: number;
  readonly onEvent?: (e: SpeakerEvent) => void;
}

/** What the import policy depends on: who owns which subnet at which address. */
const leasesKey = (all: readonly NodeLease[]) =>
  all.map((n) => `${n.node} ${n.subnet} ${n.publicIp}`).join("|");

/**
 * Calico-style routed pod networking: each node runs a BGP speaker, announces its pod subnet and
 * installs what it learns (pod subnet via the announcing node, or via the router that passed it
 * on). No encapsulation: pods get the full underlay MTU.
 */
export class BgpBackend implements Backend {
  readonly name = "bgp";
  #speaker: BgpSpeaker | undefined;
  /** The leases the import policy was last built from (rebuilt only when they change). */
  #policyKey = "";
  /**
   * Routes learned for other nodes' leased subnets, kept when their session goes (the peer's
   * agent was killed or restarts; its kernel still forwards), as long as the same node holds the
   * same lease: RFC 4724 graceful restart's retention, bounded by ownership instead of a timer.
   */
  #retained = new Map<string, { nextHop: string; owner: string }>();
  /** The address sessions are made from (the lease's public address). */
  #localAddress: string | undefined;

  constructor(private readonly o: BgpBackendOptions) {}

  podMtu(underlayMtu: number): number {
    return underlayMtu;
  }

  localBackendData(): Readonly<Record<string, string>> {
    return { bgpAsn: String(this.o.asn) };
  }

  async start(local: LocalNode, onRoutesChanged: () => void): Promise<void> {
    const lease = local.lease;
    const reflector = this.o.routeReflectors.includes(lease.node);
    this.#localAddress = lease.publicIp;
    this.#speaker = new BgpSpeaker({
      asn: this.o.asn,
      routerId: lease.publicIp,
      clusterId: reflector ? this.o.clusterId : undefined,
      holdTime: this.o.holdTime,
      connectRetrySeconds: this.o.connectRetrySeconds,
      listen: { host: lease.publicIp, port: this.o.port },
      localAddress: lease.publicIp,
      nextHop: lease.publicIp,
      onEvent: this.o.onEvent,
      onRoutes: () => onRoutesChanged(),
      importPolicy: this.#importPolicy(lease, [lease]),
    });
    this.#speaker.originate(lease.subnet);
    await this.#speaker.start(this.o.external);
  }

  peersChanged(local: LocalNode, peers: readonly NodeLease[]): void {
    const all = [local.lease, ...peers];
    if (leasesKey(all) !== this.#policyKey)
      this.#speaker?.setImportPolicy(this.#importPolicy(local.lease, all));
    this.#speaker?.setPeers(clusterPeers(local.lease, all, this.o));
  }

  #importPolicy(self: NodeLease, all: readonly NodeLease[]) {
    this.#policyKey = leasesKey(all);
    return clusterImportPolicy(self, all, {
      routeReflectors: this.o.routeReflectors,
      externalWithList: new Set(this.o.external.filter((p) => p.importList).map((p) => p.address)),
    });
  }

  desired(local: LocalNode, peers: readonly NodeLease[]): DesiredState {
    const routes: Route[] = [];
    const unreachable: { node: string; reason: string }[] = [];
    const ownNet = `${local.lease.publicIp}/${local.lease.publicPrefix}`;
    const owner = (p: NodeLease) => `${p.node} ${p.publicIp}`;
    const leased = new Map(peers.map((p) => [p.subnet, owner(p)]));
    const learned = new Map(this.#speaker?.learnedRoutes() ?? []);
    for (const [prefix, nextHop] of learned) {
      const o = leased.get(prefix);
      if (o) this.#retained.set(prefix, { nextHop, owner: o });
    }
    // A retained route goes with its lease (node removed, lease expired) or when the subnet
    // changes hands; a session that announces the prefix again replaces it.
    for (const [prefix, r] of this.#retained)
      if (leased.get(prefix) !== r.owner) this.#retained.delete(prefix);
    const chosen = new Map([...[...this.#retained].map(([p, r]) => [p, r.nextHop] as const), ...learned]);
    for (const [prefix, nextHop] of chosen) {
      if (prefix === local.lease.subnet) continue;
      if (contains(ownNet, nextHop)) routes.push({ dst: prefix, via: nextHop, dev: local.underlayDev });
    }
    // A peer whose subnet we have no route to: name why (mesh across a router needs the router to peer).
    for (const p of peers) {
      if (routes.some((r) => r.dst === p.subnet)) continue;
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
    return { devices: [], addresses: [], routes, neighbours: [], fdb: [], unreachable };
  }

  status(): Record<string, unknown> {
    const sessions = this.#speaker?.sessions() ?? [];
    const learned = this.#speaker?.learnedRoutes();
    return {
      bgpAsn: this.o.asn,
      bgpLocalAddress: this.#localAddress,
      bgpSessions: sessions,
      bgpEstablished: sessions.filter((s) => s.state === "Established").length,
      // Routes kept for leased subnets whose session is down (graceful-restart-like retention).
      bgpRetainedRoutes: [...this.#retained.keys()].filter((p) => !learned?.has(p)),
      // Routes import policy refused (RFC 4271 §9.1): counted, never installed.
      bgpRejectedRoutes: sessions.reduce((n, s) => n + s.rejectedTotal, 0),
    };
  }

  async stop(): Promise<void> {
    await this.#speaker?.stop();
  }
}
