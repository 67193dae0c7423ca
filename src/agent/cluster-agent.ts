import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Backend, LocalNode, PodAttachment } from "../backends/api.js";
import { aliveNodes, NodeHeartbeat } from "../cluster/heartbeats.js";
import { type RejectedLease, rejectionId, subnetKey } from "../cluster/lease-validation.js";
import { leaseFamilies, type NodeLease } from "../cluster/node-lease.js";
import {
  type HeldLease,
  type LeaseRequest,
  type LeaseView,
  type PreviousSubnet,
  SubnetLeases,
  SubnetTakenError,
} from "../cluster/subnet-leases.js";
import { overlaps } from "../common/cidr.js";
import { CoalescingRunner } from "../common/coalescing-runner.js";
import { describeError, StrataError } from "../common/errors.js";
import { PhaseClock } from "../common/phase-clock.js";
import { type Datastore, DatastoreError } from "../datastore/api.js";
import type { Kernel, Netns, Route } from "../kernel/api.js";
import { applyPlanOrThrow } from "../kernel/desired/apply.js";
import { observe, observeRoutes } from "../kernel/desired/observe.js";
import { planReconcile } from "../kernel/desired/plan.js";
import { planDesiredChange } from "../kernel/desired/plan-change.js";
import { missingRoutes, planRouteChanges, planRoutes } from "../kernel/desired/plan-routes.js";
import type { DesiredState } from "../kernel/desired/state.js";
import type { NfNetlink } from "../kernel/nftables/apply.js";
import { ChangeLatency, type LatencySummary } from "./change-latency.js";
import { type ChangeWindow, changeArrived, quietWindow, windowEnded } from "./change-window.js";
import { defaultLeaseBurst, type LeaseBurst, leasePassDelay } from "./lease-burst.js";
import { clusterMasquerade } from "./masquerade.js";
import { clusterMasqueradeMessages } from "./masquerade-netlink.js";
import { nextRepairDelay, type RepairSchedule, repairKind } from "./repair-schedule.js";
import { readPreviousSubnet, subnetFileName } from "./subnet-file.js";

/** The node's underlay interface as the lease publishes it. */
interface Underlay {
  readonly ip: string;
  readonly prefix: number;
  readonly mtu: number;
  /** Dual stack: its global IPv6 address, and with its prefix length. */
  readonly ip6?: string;
  readonly cidr6?: string;
}

/** The underlay device cannot carry what the configuration asks for (one line, nothing leased). */
export class UnderlayError extends StrataError {
  constructor(message: string) {
    super("agent.underlay", message);
  }
}

/** A control request the agent cannot carry out now or at all (the message says why). */
export class AgentCommandError extends StrataError {
  constructor(message: string) {
    super("agent.command", message);
  }
}

export interface ClusterAgentOptions {
  readonly kernel: Kernel;
  readonly store: Datastore;
  /** The node's own namespace (currentNetns for a real agent; a named one in tests). */
  readonly hostNs: Netns;
  readonly node: string;
  readonly clusterCidr: string;
  readonly subnetLen: number;
  /**
   * Dual stack: the cluster's IPv6 CIDR and per-node length. The node then leases an IPv6 subnet
   * too, publishes its global IPv6 underlay address, and its pods get an address of each family.
   */
  readonly clusterCidr6?: string;
  readonly subnetLen6?: number;
  readonly underlayDev: string;
  readonly backend: Backend;
  /**
   * Subnet lease TTL (ownership), seconds: long (default 24 h, as Flannel), so a dead or restarting
   * agent leaves its node's routes in place everywhere; renewed every min(TTL/3, 1 h).
   */
  readonly leaseTtlSeconds: number;
  /** Liveness heartbeat TTL, seconds (renewed every TTL/3); only reported, never removes routes. */
  readonly heartbeatTtlSeconds?: number;
  /** /healthz is not ok once the datastore has been unreachable this long, seconds. */
  readonly datastoreTimeoutSeconds?: number;
  /** Merge reconcile triggers that arrive during a pass into one next pass (false: the bench's reference). */
  readonly coalesce?: boolean;
  /** Periodic repair on top of watch events, ms: the routes it installed are read back and re-added. */
  readonly resyncMs: number;
  /**
   * The repair tick diffs the whole desired state against the kernel (devices, addresses,
   * neighbours, FDB, routes) this often at most, ms; the ticks in between read routes alone
   * (repair-schedule.ts). Default 60 s; ≤ resyncMs makes every tick a full pass.
   */
  readonly fullResyncMs?: number;
  /**
   * Lease views that arrive in a burst (a cluster coming up) merge into one pass: it runs once no
   * view has come for `quietMs`, at the latest `maxDelayMs` after the first (default 100 / 1000).
   */
  readonly leaseBurst?: LeaseBurst;
  /**
   * The backend's route changes (BGP UPDATEs) merge into one kernel batch per window of this many
   * ms: the first change after a quiet spell goes at once, the ones during the window at its end
   * (change-window.ts). Default 250; 0 runs a pass per change signal.
   */
  readonly routeChangeWindowMs?: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Where the agent writes subnet.json and the CNI conflist for this node. */
  readonly stateDir?: string;
  readonly masquerade: boolean;
  /**
   * nf_tables writes from inside the process, in the node's namespace (the masquerade tables);
   * absent: through an `nft` process (an addon without nfApply, the iproute2 kernel driver).
   */
  readonly nftables?: NfNetlink;
  /** How pods attach (the conflist's mode); default: what the backend asks for, else bridge. */
  readonly podAttachment?: PodAttachment;
}

export interface ClusterStatus {
  node: string;
  /** The backend (pod-networking model) this node runs. */
  model: string;
  /** The repair pass runs this often (doctor judges the last reconcile's age by it). */
  resyncSeconds: number;
  /** This node's subnet lease: its TTL and when it was last taken or renewed. */
  lease?: { ttlSeconds: number; renewedAt: string };
  subnet?: string;
  /** Dual stack: this node's IPv6 pod subnet. */
  subnet6?: string;
  podMtu?: number;
  /** How pods attach on this node: the node bridge or routed veths. */
  podAttachment?: PodAttachment;
  peers: number;
  /** Peers (routed to) whose agent has no heartbeat in the datastore: reported, routes kept. */
  peersNotAlive: string[];
  unreachable: { node: string; reason: string }[];
  /** Reconcile passes run, and the triggers (watch events, BGP, repair ticks) they served. */
  reconciles: number;
  reconcileTriggers: number;
  /**
   * The backend's route changes (BGP): how often it signalled some, the passes that applied
   * them, the kernel batches of every pass, and how long a change waited from the signal to
   * the end of the batch that installed it.
   */
  routeChanges: { signals: number; passes: number; kernelBatches: number; latency?: LatencySummary };
  lastReconcile?: { ok: boolean; at: string; error?: string };
  /** How long each step of the start took, ms (where a slow start went): underlay, lease, ... */
  startPhases?: Record<string, number>;
  /** When the first pass succeeded (readiness). */
  firstReconcileAt?: string;
  /** Routes the last pass wanted that the kernel does not have now (filled by statusNow()). */
  missingRoutes: { node?: string; dst: string; via?: string }[];
  datastore: { reachable: boolean; unreachableSince?: string; timeoutSeconds: number };
  /** Set when this node no longer holds its subnet in the datastore (removed, expired, taken). */
  ownership?: string;
  /** The CNI conflist in the state directory. */
  conflist: "written" | "pending" | "not configured";
  lastError?: string;
  backend?: Record<string, unknown>;
  /** Leases in the datastore that failed validation or lost a conflict (no route goes to them). */
  leaseConflicts: Pick<RejectedLease, "key" | "node" | "subnet" | "reason" | "detail">[];
  /** Set when this node's own lease is among them: the node is not healthy until it is resolved. */
  ownLeaseRejected?: string;
}

/**
 * The node agent's cluster loop: lease a pod subnet, publish it, watch every other node's lease
 * and reconcile kernel state to the backend's desired state by diff (never a flush), with a
 * periodic repair pass. A datastore outage only pauses updates: routes stay as they are.
 */
export class ClusterAgent {
  readonly status: ClusterStatus;
  readonly #leases: SubnetLeases;
  #held: HeldLease | undefined;
  #local: LocalNode | undefined;
  #peers: NodeLease[] = [];
  /** #routedPeers() for the #peers and #local it was computed from. */
  #routedPeersOf: { peers: NodeLease[]; local: LocalNode; routed: NodeLease[] } | undefined;
  /** Rejections seen in the last lease view, by identity: each is logged once when it appears. */
  #rejections = new Map<string, RejectedLease>();
  readonly #runner: CoalescingRunner;
  /** The newest lease view from the watch, and the one the last pass used. */
  #view: LeaseView | undefined;
  #viewUsed: LeaseView | undefined;
  /** The peer set backend.peersChanged was last told about. */
  #peersTold: readonly NodeLease[] | undefined;
  /** Routes the last successful pass wanted (by destination), and whose they are (to report missing ones). */
  #routed: { routes: Map<string, Route>; nodeOf: ReadonlyMap<string, string> } = {
    routes: new Map(),
    nodeOf: new Map(),
  };
  /**
   * The next pass diffs the backend's whole desired state against the kernel (at start, on a
   * lease view, on a repair tick, after a failed pass); otherwise a pass asked for by the
   * backend applies only the routes it says changed.
   */
  #fullPassDue = true;
  /**
   * A lease view arrived since the last pass: unless a full pass is due, the next one plans the
   * change from `#applied` (planDesiredChange) instead of reading the kernel.
   */
  #leasesChanged = false;
  /** A repair tick asked for a routes-only repair (read routes back, re-add what is missing). */
  #routeRepairDue = false;
  /** When the last pass that diffed against the kernel in full ran (Date.now()). */
  #lastFullPassAt = 0;
  /** The desired state the last successful pass made true (undefined after a failed pass). */
  #applied: DesiredState | undefined;
  /** The burst of lease views being merged: when its first view came, and its pending pass. */
  #burst: { since: number; timer: NodeJS.Timeout } | undefined;
  /** When the last full pass ended and how long it took (lease-burst.ts spaces the next by it). */
  #lastFullPass: { endedAt: number; ms: number } | undefined;
  /** The backend's route changes: the burst window, its timer, when the oldest undrained change came. */
  #routeWindow: ChangeWindow = quietWindow;
  #routeWindowTimer: NodeJS.Timeout | undefined;
  #routeChangesSince: number | undefined;
  readonly #routeLatency = new ChangeLatency();
  readonly #heartbeat: NodeHeartbeat;
  #alive: Set<string> | undefined;
  /** When the heartbeat list behind `#alive` was asked for. */
  #aliveReadAt = 0;
  /** When each routed peer was first planned: one that came after the last heartbeat read is not judged by it. */
  readonly #peerSince = new Map<string, number>();
  /** The routed peers the last heartbeat read did not find (reported not alive or not judged yet). */
  #unseenPeers = new Set<string>();
  #storeDownSince: number | undefined;

  constructor(private readonly o: ClusterAgentOptions) {
    this.#leases = new SubnetLeases(o.store, {
      clusterCidr: o.clusterCidr,
      subnetLen: o.subnetLen,
      ...(o.clusterCidr6 ? { clusterCidr6: o.clusterCidr6, subnetLen6: o.subnetLen6 ?? 64 } : {}),
    });
    this.#heartbeat = new NodeHeartbeat(o.store, o.node, this.#heartbeatTtl);
    this.#runner = new CoalescingRunner(
      () => this.#reconcileOnce(),
      (err) => {
        const error = describeError(err);
        this.status.lastError = error;
        this.status.lastReconcile = { ok: false, at: new Date().toISOString(), error };
        this.o.logger.warn({ err: error }, "reconcile failed");
      },
      o.coalesce ?? true,
    );
    this.status = {
      node: o.node,
      model: o.backend.name,
      resyncSeconds: o.resyncMs / 1000,
      peers: 0,
      peersNotAlive: [],
      unreachable: [],
      reconciles: 0,
      reconcileTriggers: 0,
      routeChanges: { signals: 0, passes: 0, kernelBatches: 0 },
      missingRoutes: [],
      datastore: { reachable: true, timeoutSeconds: o.datastoreTimeoutSeconds ?? 60 },
      conflist: o.stateDir ? "pending" : "not configured",
      leaseConflicts: [],
    };
  }

  /**
   * The egress masquerade tables (masquerade.ts): over nf_tables netlink from inside this process
   * when it can (no `nft` process: ~50 ms of CPU an agent start, 10 s of a 200-node lab's), else
   * one `nft -f`. A failure is logged, not fatal: pods still reach each other without it.
   */
  async #writeMasquerade(): Promise<void> {
    const cidrs = [this.o.clusterCidr, ...(this.o.clusterCidr6 ? [this.o.clusterCidr6] : [])];
    if (this.o.nftables) {
      try {
        this.o.nftables.apply(clusterMasqueradeMessages(cidrs));
      } catch (err) {
        this.o.logger.warn({ err: describeError(err) }, "masquerade rules not installed");
      }
      return;
    }
    const r = await this.o.kernel.exec(this.o.hostNs, ["nft", "-f", "-"], {
      input: clusterMasquerade(cidrs),
    });
    if (r.code !== 0) this.o.logger.warn({ stderr: r.stderr.trim() }, "masquerade rules not installed");
  }

  /** Where the backend acts: this node's kernel and namespace. */
  get #host() {
    return { kernel: this.o.kernel, netns: this.o.hostNs, logger: this.o.logger };
  }

  get #heartbeatTtl(): number {
    return this.o.heartbeatTtlSeconds ?? 20;
  }

  /**
   * Status with its live parts read now: the backend's (e.g. BGP sessions) and the routes the
   * last pass wanted that are missing from the kernel (someone deleted one; /healthz says so
   * until the next repair pass puts it back).
   */
  async statusNow(): Promise<ClusterStatus> {
    this.status.backend = this.o.backend.status?.();
    const { routes, nodeOf } = this.#routed;
    if (routes.size > 0) {
      try {
        const observed = await observeRoutes(this.o.kernel, this.o.hostNs, this.#families);
        this.status.missingRoutes = missingRoutes([...routes.values()], observed).map((r) => ({
          node: nodeOf.get(r.dst),
          dst: r.dst,
          via: r.via,
        }));
      } catch (err) {
        this.status.missingRoutes = [{ dst: `(routes unreadable: ${describeError(err)})` }];
      }
    } else this.status.missingRoutes = [];
    this.status.reconcileTriggers = this.#runner.triggers;
    this.status.routeChanges.latency = this.#routeLatency.summary();
    return this.status;
  }

  #leaseRenewed(): void {
    this.status.lease = { ttlSeconds: this.o.leaseTtlSeconds, renewedAt: new Date().toISOString() };
  }

  #storeReachable(): void {
    this.#storeDownSince = undefined;
    this.status.datastore.reachable = true;
    this.status.datastore.unreachableSince = undefined;
  }

  #storeUnreachable(): void {
    this.#storeDownSince ??= Date.now();
    this.status.datastore.reachable = false;
    this.status.datastore.unreachableSince = new Date(this.#storeDownSince).toISOString();
  }

  /** The address families this node routes pods of: IPv4, and IPv6 on a dual-stack cluster. */
  get #families(): (4 | 6)[] {
    if (this.#ipv6Only) return [6];
    return this.o.clusterCidr6 ? [4, 6] : [4];
  }

  /** An IPv6-only cluster: the primary cluster CIDR is IPv6 (pods, leases and BGP all IPv6). */
  get #ipv6Only(): boolean {
    return this.o.clusterCidr.includes(":");
  }

  async #underlay(): Promise<Underlay> {
    const addrs = await this.o.kernel.addresses(this.o.hostNs, this.o.underlayDev);
    const link = await this.o.kernel.link(this.o.hostNs, this.o.underlayDev);
    // The address other nodes route this node's pods via: IPv6-only and dual stack need a global
    // IPv6 one (a link-local one names no link on the other side).
    const global6 = addrs.find((a) => a.family === 6 && a.scope === "global");
    if (this.#ipv6Only) {
      if (!global6 || !link)
        throw new UnderlayError(
          `IPv6-only (--cluster-cidr ${this.o.clusterCidr}): underlay device ${this.o.underlayDev} has no global IPv6 address; add one`,
        );
      const [ip = "", prefix = "128"] = global6.cidr.split("/");
      return { ip, prefix: Number(prefix), mtu: link.mtu };
    }
    const addr = addrs.find((a) => a.family === 4);
    if (!addr || !link) throw new Error(`underlay device ${this.o.underlayDev} has no IPv4 address`);
    const [ip = "", prefix = "32"] = addr.cidr.split("/");
    const six = this.o.clusterCidr6 ? global6 : undefined;
    if (this.o.clusterCidr6 && !six)
      throw new UnderlayError(
        `dual stack (--cluster-cidr has ${this.o.clusterCidr6}): underlay device ${this.o.underlayDev} has no global IPv6 address; add one, or give --cluster-cidr an IPv4 CIDR alone`,
      );
    return {
      ip,
      prefix: Number(prefix),
      mtu: link.mtu,
      ...(six ? { ip6: six.cidr.split("/")[0], cidr6: six.cidr } : {}),
    };
  }

  #request(u: Underlay): LeaseRequest {
    return {
      node: this.o.node,
      publicIp: u.ip,
      publicPrefix: u.prefix,
      ...(u.ip6 ? { publicIp6: u.ip6 } : {}),
      backend: this.o.backend.name,
      backendData: this.o.backend.localBackendData(),
      ttlSeconds: this.o.leaseTtlSeconds,
    };
  }

  /** Acquire the lease and set up node-wide state; resolves when the node can take pods. */
  async start(): Promise<NodeLease> {
    const clock = new PhaseClock();
    const u = await this.#underlay();
    clock.mark("underlay");
    // The backend settles how it works on this kernel first: a refusal leases nothing.
    await this.o.backend.prepare?.(this.#host);
    // A restart takes back its own subnet: the datastore's lease with its name, or the subnet its
    // state directory names; refused (one line, nothing changed) if that now belongs to another node.
    const previous = this.o.stateDir ? await readPreviousSubnet(this.o.stateDir) : undefined;
    clock.mark("prepare");
    this.#held = await this.#acquireWhenReachable(this.#request(u), previous);
    clock.mark("lease");
    this.#storeReachable();
    this.#leaseRenewed();
    const lease = this.#held.lease;
    const podMtu = this.o.backend.podMtu(u.mtu);
    this.#local = {
      lease,
      underlayDev: this.o.underlayDev,
      underlayMtu: u.mtu,
      ...(u.cidr6 && lease.subnet6 ? { underlayCidr6: u.cidr6 } : {}),
    };
    this.status.subnet = lease.subnet;
    if (lease.subnet6) this.status.subnet6 = lease.subnet6;
    this.status.podMtu = podMtu;
    await this.o.kernel.apply(this.o.hostNs, [
      { op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" },
      ...(leaseFamilies(lease).includes(6)
        ? [{ op: "sysctl.set" as const, key: "net/ipv6/conf/all/forwarding", value: "1" }]
        : []),
    ]);
    clock.mark("sysctl");
    if (this.o.masquerade) {
      await this.#writeMasquerade();
      clock.mark("masquerade");
    }
    await this.o.backend.start?.({
      local: this.#local,
      kernel: this.o.kernel,
      netns: this.o.hostNs,
      logger: this.o.logger,
      signal: this.o.signal,
      // Not a full pass: the backend hands on what changed (takeRouteChanges), merged per window.
      onChange: () => this.#routesChanged(),
      republish: () => this.#republish(),
    });
    clock.mark("backend");
    if (this.o.stateDir) {
      await this.#writeCniState(lease, podMtu);
      this.status.conflist = "written";
      clock.mark("cniState");
    }
    await this.#beat();
    clock.mark("heartbeat");
    this.status.startPhases = clock.phases;
    this.o.logger.info(
      {
        subnet: lease.subnet,
        ...(lease.subnet6 ? { subnet6: lease.subnet6 } : {}),
        podMtu,
        backend: this.o.backend.name,
        previous: previous?.subnet,
        startPhasesMs: clock.phases,
      },
      previous?.subnet === lease.subnet ? "subnet taken back" : "subnet leased",
    );
    return lease;
  }

  /**
   * Lease a subnet, waiting out a datastore that cannot be reached yet (as Flannel does): a node
   * that boots before etcd, or while etcd elects a leader, gets its subnet once the store answers
   * instead of exiting. Meanwhile /healthz names the datastore. Other errors (a refused lease, a
   * full pool) end the start at once.
   */
  async #acquireWhenReachable(
    request: LeaseRequest,
    previous: PreviousSubnet | undefined,
  ): Promise<HeldLease> {
    for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5_000)) {
      try {
        return await this.#leases.acquire(request, previous);
      } catch (err) {
        if (!(err instanceof DatastoreError && err.kind === "unavailable") || this.o.signal.aborted)
          throw err;
        this.#storeUnreachable();
        this.status.lastError = describeError(err);
        this.o.logger.warn(
          { err: this.status.lastError, retryInMs: delayMs },
          "datastore unavailable; no subnet yet",
        );
        await sleep(delayMs, undefined, { signal: this.o.signal }).catch(() => {});
        if (this.o.signal.aborted) throw err;
      }
    }
  }

  async #writeCniState(lease: NodeLease, podMtu: number): Promise<void> {
    const dir = this.o.stateDir as string;
    await mkdir(dir, { recursive: true });
    // Written beside and renamed into place: readers (the runtime, the lab) never see half a file.
    const publish = async (name: string, text: string) => {
      await writeFile(join(dir, `.${name}.tmp`), text);
      await rename(join(dir, `.${name}.tmp`), join(dir, name));
    };
    const mode = this.o.podAttachment ?? this.o.backend.podAttachment ?? "bridge";
    this.status.podAttachment = mode;
    const conflist = {
      cniVersion: "1.0.0",
      name: "strata",
      plugins: [
        {
          type: "strata",
          mode,
          bridge: "cni0",
          mtu: podMtu,
          // Dual stack: one range set per family, so each pod gets an address of each (CNI
          // host-local's "ranges"), with a default route per family via its gateway.
          ipam: {
            type: "strata-ipam",
            ranges: [[{ subnet: lease.subnet }], ...(lease.subnet6 ? [[{ subnet: lease.subnet6 }]] : [])],
            dataDir: join(dir, "ipam"),
          },
        },
      ],
    };
    await publish("10-strata.conflist", `${JSON.stringify(conflist, null, 2)}\n`);
    // subnet.json last: its presence says the node is ready for pods.
    await publish(
      subnetFileName,
      `${JSON.stringify({
        subnet: lease.subnet,
        ...(lease.subnet6 ? { subnet6: lease.subnet6, clusterCidr6: this.o.clusterCidr6 } : {}),
        mtu: podMtu,
        clusterCidr: this.o.clusterCidr,
      })}\n`,
    );
  }

  /** Run until the signal aborts: watch, reconcile, repair, renew, heartbeat. */
  async run(): Promise<void> {
    const { signal } = this.o;
    // Repair ticks with jitter (repair-schedule.ts): routes read back each tick, everything at most
    // every fullResyncMs.
    const schedule: RepairSchedule = {
      routesMs: this.o.resyncMs,
      fullMs: this.o.fullResyncMs ?? 60_000,
      jitter: 0.2,
    };
    let repair: NodeJS.Timeout | undefined;
    const scheduleRepair = () => {
      repair = setTimeout(
        () => {
          if (repairKind(schedule, Date.now() - this.#lastFullPassAt) === "full") void this.reconcile();
          else void this.#repairRoutes();
          if (!signal.aborted) scheduleRepair();
        },
        nextRepairDelay(schedule, Math.random()),
      );
    };
    scheduleRepair();
    const beat = setInterval(() => void this.#beat(), Math.max(200, (this.#heartbeatTtl * 1000) / 3));
    // Ownership is renewed well before expiry: every TTL/3, at most an hour apart (24 h TTL: 23 h
    // of slack for an agent that is down); a failed renewal is retried every few seconds.
    const renewMs = Math.max(500, Math.min((this.o.leaseTtlSeconds * 1000) / 3, 3_600_000));
    let renew: NodeJS.Timeout | undefined;
    const scheduleRenew = (ms: number) => {
      renew = setTimeout(async () => {
        const ok = await this.#renew();
        if (!signal.aborted) scheduleRenew(ok ? renewMs : Math.min(renewMs, 5_000));
      }, ms);
    };
    scheduleRenew(renewMs);
    try {
      while (!signal.aborted) {
        try {
          for await (const view of this.#leases.watch(signal)) {
            this.#storeReachable();
            // Not awaited: events that arrive during a pass or a burst merge into one pass.
            this.#view = view;
            this.#leaseViewArrived();
          }
        } catch (err) {
          if (signal.aborted) break;
          // Datastore unreachable: keep the kernel as it is and try again.
          this.#storeUnreachable();
          this.status.lastError = describeError(err);
          this.o.logger.warn({ err: this.status.lastError }, "watch interrupted; retrying");
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    } finally {
      clearTimeout(repair);
      clearInterval(beat);
      clearTimeout(this.#burst?.timer);
      clearTimeout(this.#routeWindowTimer);
      clearTimeout(renew);
    }
  }

  /** Heartbeat, and who else is alive (also the datastore probe behind --datastore-timeout). */
  async #beat(): Promise<void> {
    try {
      await this.#heartbeat.beat();
      const readAt = Date.now();
      this.#alive = await aliveNodes(this.o.store);
      this.#aliveReadAt = readAt;
      this.#storeReachable();
      this.#noteLiveness();
    } catch (err) {
      this.#storeUnreachable();
      this.o.logger.debug({ err: describeError(err) }, "heartbeat failed");
    }
  }

  #noteLiveness(): void {
    const alive = this.#alive;
    if (!alive) return;
    const before = new Set(this.status.peersNotAlive);
    const routed = this.#routedPeers();
    // A peer that joined after the heartbeats were read is not known either way yet: its agent
    // beats right after it leases, so the next read finds it (as a cluster comes up, every new
    // node was reported "not alive", then "alive again", a few seconds later: 10,000 lines in a
    // 200-node lab). Its first dial still waits for it to be seen alive (the backend's `alive`).
    const now = Date.now();
    const since = this.#peerSince;
    const routedNames = new Set(routed.map((p) => p.node));
    for (const node of since.keys()) if (!routedNames.has(node)) since.delete(node);
    for (const node of routedNames) if (!since.has(node)) since.set(node, now);
    const unseen = routed.filter((p) => !alive.has(p.node)).map((p) => p.node);
    const dead = unseen.filter((n) => (since.get(n) ?? now) < this.#aliveReadAt);
    // One line per change, not per peer: an agent that starts among 200 sees every peer's first
    // heartbeat arrive within seconds (200 lines each, 40,000 in a lab, were a tenth of its time).
    const gone = dead.filter((n) => !before.has(n));
    const back = [...before].filter((n) => !dead.includes(n));
    const names = (list: readonly string[]) =>
      list.length > 1 ? { peers: list.slice(0, 20), count: list.length } : { peer: list[0] };
    if (gone.length > 0)
      this.o.logger.warn(
        names(gone),
        gone.length > 1
          ? "peers' agents are not alive (their routes are kept)"
          : "peer's agent is not alive (its routes are kept)",
      );
    if (back.length > 0)
      this.o.logger.info(
        names(back),
        back.length > 1 ? "peers' agents are alive again" : "peer's agent is alive again",
      );
    // Every peer not seen alive before and seen now, reported or not: the backend holds its first
    // dial until then.
    const cameAlive = routed.filter((p) => this.#unseenPeers.has(p.node) && alive.has(p.node));
    if (cameAlive.length > 0) this.o.backend.peersAlive?.(cameAlive);
    this.#unseenPeers = new Set(unseen);
    this.status.peersNotAlive = dead;
  }

  /** This node's own lease in a view: still ours, or who took it, or gone. */
  #noteOwnership(view: LeaseView): void {
    const held = this.#held?.lease;
    if (!held) return;
    let problem: string | undefined;
    if (!view.leases.some((l) => l.node === this.o.node && l.subnet === held.subnet)) {
      const other = view.leases.find((l) => overlaps(l.subnet, held.subnet));
      if (other) problem = `this node's subnet ${held.subnet} now belongs to node ${other.node}`;
      else if (!view.rejected.some((r) => r.key === subnetKey(held.subnet)))
        problem = `this node's subnet lease ${held.subnet} is no longer in the datastore (removed with \`strata node remove\`, or expired): other nodes no longer route to it; restart the agent to lease it again`;
    }
    if (problem !== this.status.ownership) {
      if (problem) this.o.logger.error({ subnet: held.subnet }, problem);
      else if (this.status.ownership) this.o.logger.info({ subnet: held.subnet }, "subnet lease held again");
    }
    this.status.ownership = problem;
  }

  /** Rejected leases into status and the log: once when a rejection appears, once when it clears. */
  #noteRejected(view: LeaseView): void {
    const ownKey = this.#held ? subnetKey(this.#held.lease.subnet) : undefined;
    const now = new Map(view.rejected.map((r) => [rejectionId(r), r]));
    for (const [id, r] of now) {
      if (this.#rejections.has(id)) continue;
      if (r.key === ownKey) this.o.logger.error(r, "this node's own subnet lease is rejected");
      else this.o.logger.warn(r, "lease rejected: no route to it");
    }
    for (const [id, r] of this.#rejections)
      if (!now.has(id)) this.o.logger.info({ key: r.key, reason: r.reason }, "lease rejection cleared");
    this.#rejections = now;
    this.status.leaseConflicts = view.rejected.map(({ key, node, subnet, reason, detail }) => ({
      key,
      node,
      subnet,
      reason,
      detail,
    }));
    const own = view.rejected.find((r) => r.key === ownKey);
    this.status.ownLeaseRejected = own ? `${own.reason}: ${own.detail}` : undefined;
  }

  /** The backend's data changed (a rotated key): write this node's lease again with it. */
  async #republish(): Promise<void> {
    if (!this.#held) return;
    const u = await this.#underlay();
    this.#held = await this.#leases.republish(this.#held, this.#request(u));
    this.#storeReachable();
    this.#leaseRenewed();
  }

  /**
   * `strata agent rotate-key`: the backend makes, uses and publishes a new key pair. A backend
   * without keys refuses with a StrataError saying so.
   */
  async rotateKey(): Promise<{ readonly publicKey: string; readonly previous: string }> {
    if (!this.o.backend.rotateKey)
      throw new AgentCommandError(`the ${this.o.backend.name} backend has no keys to rotate`);
    if (!this.#held) throw new AgentCommandError("the agent holds no lease yet: try again once it serves");
    return this.o.backend.rotateKey();
  }

  /** Renew the subnet lease; false when it failed for now (retried soon). Never takes another subnet. */
  async #renew(): Promise<boolean> {
    if (!this.#held || !this.#local) return true;
    try {
      const u = await this.#underlay();
      this.#held = await this.#leases.renew(this.#held, this.#request(u));
      this.#storeReachable();
      this.#leaseRenewed();
      return true;
    } catch (err) {
      this.status.lastError = describeError(err);
      if (err instanceof SubnetTakenError) {
        // Not transient: said once, tried again at the normal interval (the other node may leave).
        if (this.status.ownership !== err.message)
          this.o.logger.error({ err: err.message }, "subnet lease lost and taken by another node");
        this.status.ownership = err.message;
        return true;
      }
      // The node's own address is gone (an underlay without its IPv6 address): not the datastore.
      if (!(err instanceof UnderlayError)) this.#storeUnreachable();
      this.o.logger.warn({ err: this.status.lastError }, "lease renewal failed");
      return false;
    }
  }

  /**
   * Ask for a reconcile pass. Passes never overlap; triggers that arrive during a pass merge
   * into one next pass. Resolves after a pass that started after this call.
   */
  reconcile(): Promise<void> {
    this.#fullPassDue = true;
    return this.#runner.trigger();
  }

  /**
   * A new lease view: a pass once the burst it belongs to is quiet (leaseBurst). With N nodes
   * leasing one after another, every node would otherwise pay N passes, the cluster N².
   */
  #leaseViewArrived(): void {
    const now = Date.now();
    const since = this.#burst?.since ?? now;
    clearTimeout(this.#burst?.timer);
    const timer = setTimeout(
      () => {
        this.#burst = undefined;
        // Due only now, not when the view came: a pass that runs meanwhile for something else
        // (a BGP UPDATE's route changes, every quarter second while a cluster comes up) must not
        // plan every lease at once and so undo the spacing. A full pass meanwhile (a repair
        // tick) planned the newest view already.
        if (this.#view !== this.#viewUsed) this.#leasesChanged = true;
        void this.#runner.trigger();
      },
      leasePassDelay(
        this.o.leaseBurst ?? defaultLeaseBurst,
        now,
        since,
        this.#lastFullPass,
        this.#peers.length,
      ),
    );
    this.#burst = { since, timer };
  }

  /**
   * The backend has route changes (a BGP UPDATE): a pass at once when no window is open, else
   * one at the window's end for everything that came meanwhile (change-window.ts). With N peers
   * announcing one after another, a pass per UPDATE would be N kernel batches per node.
   */
  #routesChanged(): void {
    this.status.routeChanges.signals++;
    this.#routeChangesSince ??= performance.now();
    this.#routeWindowStep(changeArrived(this.#routeWindow, performance.now(), this.#routeWindowMs));
  }

  get #routeWindowMs(): number {
    return this.o.routeChangeWindowMs ?? 250;
  }

  #routeWindowStep(s: ReturnType<typeof changeArrived>): void {
    this.#routeWindow = s.window;
    if (s.pass) void this.#runner.trigger();
    if (s.timerAt !== undefined) {
      clearTimeout(this.#routeWindowTimer);
      this.#routeWindowTimer = setTimeout(
        () => this.#routeWindowStep(windowEnded(this.#routeWindow, performance.now(), this.#routeWindowMs)),
        Math.max(0, s.timerAt - performance.now()),
      );
    }
  }

  /** Route changes are being drained into a pass: when the oldest of them came (undefined: none). */
  #takeRouteChangesSince(): number | undefined {
    const since = this.#routeChangesSince;
    this.#routeChangesSince = undefined;
    return since;
  }

  #routeChangesApplied(since: number | undefined): void {
    if (since === undefined) return;
    this.status.routeChanges.passes++;
    this.#routeLatency.record(performance.now() - since);
  }

  async #applyOps(ops: Parameters<typeof applyPlanOrThrow>[2]): Promise<void> {
    this.status.routeChanges.kernelBatches++;
    await applyPlanOrThrow(this.o.kernel, this.o.hostNs, ops);
  }

  /** A routes-only repair pass (the repair tick between full passes). */
  #repairRoutes(): Promise<void> {
    this.#routeRepairDue = true;
    return this.#runner.trigger();
  }

  /** Resolves when no reconcile pass is running or queued (benches and tests). */
  settled(): Promise<void> {
    return this.#runner.settled();
  }

  /** The other nodes this node routes to: never its own subnet, nor anything via its own address. */
  #routedPeers(): NodeLease[] {
    const local = this.#local;
    if (!local) return [];
    // Computed once per lease view: the heartbeat asks every few seconds, and an overlap test per
    // peer each time was a quarter of an idle 50-node mesh agent's JavaScript time.
    const c = this.#routedPeersOf;
    if (c && c.peers === this.#peers && c.local === local) return c.routed;
    // Whatever the datastore says (a lease that won a conflict against ours must not break our
    // reconcile).
    const { subnet: own, publicIp: self } = local.lease;
    const routed = this.#peers.filter(
      (p) => p.node !== this.o.node && p.publicIp !== self && !overlaps(p.subnet, own),
    );
    this.#routedPeersOf = { peers: this.#peers, local, routed };
    return routed;
  }

  async #reconcileOnce(): Promise<void> {
    // Nothing is planned before the first lease view: knowing only its own lease, a pass would
    // plan a node with no peers and take every peer's route away (a restart whose datastore is
    // slow to list the leases, a repair tick or a BGP End-of-RIB that comes first). The view's
    // arrival asks for the pass; the triggers until then stay due.
    if (!this.#local || !this.#view) return;
    // Cleared before anything is awaited: a trigger that arrives during this pass sets them again.
    const full = this.#fullPassDue;
    const leases = this.#leasesChanged;
    const routeRepair = this.#routeRepairDue;
    this.#fullPassDue = false;
    this.#leasesChanged = false;
    this.#routeRepairDue = false;
    try {
      if (full || leases || !this.#applied) {
        const started = performance.now();
        await this.#fullPass(this.#local, { fromApplied: !full && leases });
        this.#lastFullPass = { endedAt: Date.now(), ms: performance.now() - started };
        // A lease change planned without a read does not stand for the repair tick it met.
        if (routeRepair && !full) void this.#repairRoutes();
      } else if (routeRepair) await this.#routeChangesPass({ readRoutes: true });
      else if (!this.o.backend.takeRouteChanges) await this.#fullPass(this.#local, { fromApplied: false });
      else await this.#routeChangesPass({ readRoutes: false });
    } catch (err) {
      // Whatever a failed pass left undone, the next one finds by diffing against the kernel.
      this.#fullPassDue = true;
      this.#applied = undefined;
      throw err;
    }
  }

  /**
   * A pass for the backend's route changes alone: plan them without reading the kernel (a
   * removal is scoped to proto 147, so it never takes anyone else's route). `readRoutes` (a
   * repair tick): the routes are read back too, and what is missing or stray is planned by diff.
   */
  async #routeChangesPass({ readRoutes }: { readRoutes: boolean }): Promise<void> {
    const since = this.#takeRouteChangesSince();
    const changes = this.o.backend.takeRouteChanges?.() ?? new Map<string, Route | undefined>();
    const { routes, nodeOf } = this.#routed;
    let lost = false;
    for (const [dst, r] of changes) {
      if (r) routes.set(dst, r);
      else if (routes.delete(dst) && nodeOf.has(dst)) lost = true;
    }
    const ops = readRoutes
      ? planRoutes([...routes.values()], await observeRoutes(this.o.kernel, this.o.hostNs, this.#families))
      : planRouteChanges(changes);
    if (ops.length > 0) {
      await this.#applyOps(ops);
      this.o.logger.info(
        { ops: ops.length, routeChanges: changes.size, ...(readRoutes ? { repaired: "routes" } : {}) },
        "reconciled",
      );
    }
    this.#routeChangesApplied(since);
    if (this.#applied) this.#applied = { ...this.#applied, routes: [...routes.values()] };
    // A peer with a route now is reachable; one that lost its route gets the backend's reason
    // from a full pass.
    const reached = new Set([...changes].filter(([, r]) => r).map(([dst]) => nodeOf.get(dst)));
    this.status.unreachable = this.status.unreachable.filter((u) => !reached.has(u.node));
    this.#passDone();
    if (lost) void this.reconcile();
  }

  #passDone(): void {
    this.status.reconciles++;
    const at = new Date().toISOString();
    this.status.lastReconcile = { ok: true, at };
    this.status.firstReconcileAt ??= at;
  }

  /**
   * Plan the backend's whole desired state: against the kernel (read now), or, `fromApplied`,
   * against what the last pass applied (a lease change: only its difference, no kernel read).
   */
  async #fullPass(local: LocalNode, { fromApplied }: { fromApplied: boolean }): Promise<void> {
    const view = this.#view;
    if (view && view !== this.#viewUsed) {
      // The newest view only: the ones a burst left in between are never even validated.
      this.#viewUsed = view;
      this.#peers = view.leases;
      this.#noteRejected(view);
      this.#noteOwnership(view);
    }
    const peers = this.#routedPeers();
    if (!this.#peersTold || !sameLeases(this.#peersTold, peers)) {
      this.o.backend.peersChanged?.(local, peers, this.#alive);
      this.#peersTold = peers;
      this.#noteLiveness();
    }
    // Changes handed on so far are part of this state: drained, so no later pass repeats them.
    const since = this.#takeRouteChangesSince();
    this.o.backend.takeRouteChanges?.();
    const desired = this.o.backend.desired(local, peers);
    const ns = this.o.hostNs;
    const change = fromApplied && this.#applied ? planDesiredChange(this.#applied, desired) : undefined;
    if (!change) this.#lastFullPassAt = Date.now();
    const ops =
      change ??
      planReconcile(desired, await observe(this.o.kernel, ns, desired, { families: this.#families }));
    if (ops.length > 0) {
      await this.#applyOps(ops);
      this.o.logger.info(
        { ops: ops.length, peers: peers.length, ...(change ? { planned: "lease change" } : {}) },
        "reconciled",
      );
    }
    this.#applied = desired;
    this.#routeChangesApplied(since);
    // The backend's own datapath (tc-BPF peer maps) after its devices and routes are in place.
    await this.o.backend.applyDatapath?.(this.#host, local, peers);
    // Once per peer when it becomes unreachable, in one line per pass: a mesh agent starting among
    // 100 finds every peer unreachable until its session is up (99 lines each, 10,000 in a lab).
    const before = new Set(this.status.unreachable.map((u) => u.node));
    const newly = desired.unreachable.filter((u) => !before.has(u.node));
    if (newly.length === 1) this.o.logger.warn(newly[0], "peer not reachable with this backend");
    else if (newly.length > 1)
      this.o.logger.warn(
        { count: newly.length, peers: newly.slice(0, 20) },
        "peers not reachable with this backend",
      );
    this.status.unreachable = [...desired.unreachable];
    this.status.peers = peers.length;
    this.#passDone();
    const nodeOf = new Map(
      peers.flatMap((p) => [
        [p.subnet, p.node] as const,
        ...(p.subnet6 ? [[p.subnet6, p.node] as const] : []),
      ]),
    );
    this.#routed = { routes: new Map(desired.routes.map((r) => [r.dst, r])), nodeOf };
  }

  /**
   * Stop the backend and say this agent is gone (its heartbeat). The subnet lease stays unless
   * `releaseLease`: routes to this node's pods outlive its agent.
   */
  async stop(opts: { releaseLease: boolean }): Promise<void> {
    await this.o.backend.stop?.();
    // A datastore that does not answer must not hold up a shutdown.
    const bounded = (p: Promise<void>) =>
      Promise.race([p.catch(() => {}), new Promise<void>((r) => setTimeout(r, 2_000).unref())]);
    await bounded(this.#heartbeat.stop());
    if (opts.releaseLease && this.#held) await this.#leases.release(this.#held);
  }
}

/**
 * The same leases in the same order. Validation hands back the same object for a lease whose key
 * did not change (lease-validation.ts' memo), so this is an identity test per lease, and a
 * comparison of contents only for one rewritten as it was.
 */
function sameLeases(a: readonly NodeLease[], b: readonly NodeLease[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i] && JSON.stringify(a[i]) !== JSON.stringify(b[i])) return false;
  return true;
}
