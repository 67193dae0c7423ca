import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Backend, LocalNode } from "../backends/api.js";
import { type RejectedLease, rejectionId, subnetKey } from "../cluster/lease-validation.js";
import type { NodeLease } from "../cluster/node-lease.js";
import { type HeldLease, type LeaseRequest, type LeaseView, SubnetLeases } from "../cluster/subnet-leases.js";
import { overlaps } from "../common/cidr.js";
import { describeError } from "../common/errors.js";
import type { Datastore } from "../datastore/api.js";
import type { Kernel, Netns } from "../kernel/api.js";
import { masqueradeRuleset } from "./masquerade.js";
import { type ObservedState, planReconcile } from "./reconcile-plan.js";

export interface ClusterAgentOptions {
  readonly kernel: Kernel;
  readonly store: Datastore;
  /** The node's own namespace (currentNetns for a real agent; a named one in tests). */
  readonly hostNs: Netns;
  readonly node: string;
  readonly clusterCidr: string;
  readonly subnetLen: number;
  readonly underlayDev: string;
  readonly backend: Backend;
  readonly leaseTtlSeconds: number;
  /** Periodic repair pass on top of watch events, ms. */
  readonly resyncMs: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Where the agent writes subnet.json and the CNI conflist for this node. */
  readonly stateDir?: string;
  readonly masquerade: boolean;
}

export interface ClusterStatus {
  node: string;
  subnet?: string;
  podMtu?: number;
  peers: number;
  unreachable: { node: string; reason: string }[];
  reconciles: number;
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
  /** Rejections seen in the last lease view, by identity: each is logged once when it appears. */
  #rejections = new Map<string, RejectedLease>();
  #reconciling: Promise<void> = Promise.resolve();

  constructor(private readonly o: ClusterAgentOptions) {
    this.#leases = new SubnetLeases(o.store, { clusterCidr: o.clusterCidr, subnetLen: o.subnetLen });
    this.status = { node: o.node, peers: 0, unreachable: [], reconciles: 0, leaseConflicts: [] };
  }

  /** Status with the backend's live part (e.g. BGP session states) read now. */
  statusNow(): ClusterStatus {
    this.status.backend = this.o.backend.status?.();
    return this.status;
  }

  async #underlay(): Promise<{ ip: string; prefix: number; mtu: number }> {
    const addr = (await this.o.kernel.addresses(this.o.hostNs, this.o.underlayDev)).find(
      (a) => a.family === 4,
    );
    const link = await this.o.kernel.link(this.o.hostNs, this.o.underlayDev);
    if (!addr || !link) throw new Error(`underlay device ${this.o.underlayDev} has no IPv4 address`);
    const [ip = "", prefix = "32"] = addr.cidr.split("/");
    return { ip, prefix: Number(prefix), mtu: link.mtu };
  }

  #request(u: { ip: string; prefix: number }): LeaseRequest {
    return {
      node: this.o.node,
      publicIp: u.ip,
      publicPrefix: u.prefix,
      backend: this.o.backend.name,
      backendData: this.o.backend.localBackendData(),
      ttlSeconds: this.o.leaseTtlSeconds,
    };
  }

  /** Acquire the lease and set up node-wide state; resolves when the node can take pods. */
  async start(): Promise<NodeLease> {
    const u = await this.#underlay();
    this.#held = await this.#leases.acquire(this.#request(u));
    const lease = this.#held.lease;
    const podMtu = this.o.backend.podMtu(u.mtu);
    this.#local = { lease, underlayDev: this.o.underlayDev, underlayMtu: u.mtu };
    this.status.subnet = lease.subnet;
    this.status.podMtu = podMtu;
    await this.o.kernel.apply(this.o.hostNs, [{ op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" }]);
    if (this.o.masquerade) {
      const r = await this.o.kernel.exec(this.o.hostNs, ["nft", "-f", "-"], {
        input: masqueradeRuleset(this.o.clusterCidr),
      });
      if (r.code !== 0) this.o.logger.warn({ stderr: r.stderr.trim() }, "masquerade rules not installed");
    }
    await this.o.backend.start?.(this.#local, () => void this.reconcile());
    if (this.o.stateDir) await this.#writeCniState(lease, podMtu);
    this.o.logger.info({ subnet: lease.subnet, podMtu, backend: this.o.backend.name }, "subnet leased");
    return lease;
  }

  async #writeCniState(lease: NodeLease, podMtu: number): Promise<void> {
    const dir = this.o.stateDir as string;
    await mkdir(dir, { recursive: true });
    // Written beside and renamed into place: readers (the runtime, the lab) never see half a file.
    const publish = async (name: string, text: string) => {
      await writeFile(join(dir, `.${name}.tmp`), text);
      await rename(join(dir, `.${name}.tmp`), join(dir, name));
    };
    const conflist = {
      cniVersion: "1.0.0",
      name: "strata",
      plugins: [
        {
          type: "strata",
          mode: "bridge",
          bridge: "cni0",
          mtu: podMtu,
          ipam: { type: "strata-ipam", ranges: [[{ subnet: lease.subnet }]], dataDir: join(dir, "ipam") },
        },
      ],
    };
    await publish("10-strata.conflist", `${JSON.stringify(conflist, null, 2)}\n`);
    // subnet.json last: its presence says the node is ready for pods.
    await publish(
      "subnet.json",
      `${JSON.stringify({ subnet: lease.subnet, mtu: podMtu, clusterCidr: this.o.clusterCidr })}\n`,
    );
  }

  /** Run until the signal aborts: watch, reconcile, repair, renew. */
  async run(): Promise<void> {
    const { signal } = this.o;
    const repair = setInterval(() => void this.reconcile(), this.o.resyncMs);
    const renew = setInterval(() => void this.#renew(), Math.max(500, (this.o.leaseTtlSeconds * 1000) / 3));
    try {
      while (!signal.aborted) {
        try {
          for await (const view of this.#leases.watch(signal)) {
            this.#peers = view.leases;
            this.#noteRejected(view);
            await this.reconcile();
          }
        } catch (err) {
          // Datastore unreachable: keep the kernel as it is and try again.
          this.status.lastError = describeError(err);
          this.o.logger.warn({ err: this.status.lastError }, "watch interrupted; retrying");
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    } finally {
      clearInterval(repair);
      clearInterval(renew);
    }
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

  async #renew(): Promise<void> {
    if (!this.#held || !this.#local) return;
    try {
      const u = await this.#underlay();
      this.#held = await this.#leases.renew(this.#held, this.#request(u));
    } catch (err) {
      this.status.lastError = describeError(err);
      this.o.logger.warn({ err: this.status.lastError }, "lease renewal failed");
    }
  }

  /** One reconcile pass (serialised: a pass never overlaps another). */
  reconcile(): Promise<void> {
    this.#reconciling = this.#reconciling
      .then(() => this.#reconcileOnce())
      .catch((err) => {
        this.status.lastError = describeError(err);
        this.o.logger.warn({ err: this.status.lastError }, "reconcile failed");
      });
    return this.#reconciling;
  }

  async #reconcileOnce(): Promise<void> {
    if (!this.#local) return;
    // Never route our own pod subnet elsewhere, nor anything via our own address, whatever the
    // datastore says (a lease that won a conflict against ours must not break our reconcile).
    const { subnet: own, publicIp: self } = this.#local.lease;
    const peers = this.#peers.filter(
      (p) => p.node !== this.o.node && p.publicIp !== self && !overlaps(p.subnet, own),
    );
    this.o.backend.peersChanged?.(this.#local, peers);
    const desired = this.o.backend.desired(this.#local, peers);
    const ns = this.o.hostNs;
    const owned = desired.devices.map((d) => d.name);
    const links = await this.o.kernel.links(ns);
    const present = owned.filter((d) => links.some((l) => l.name === d));
    const observed: ObservedState = {
      links,
      addresses: await this.o.kernel.addresses(ns),
      routes: await this.o.kernel.routes(ns, { family: 4 }),
      neighbours: (await Promise.all(present.map((d) => this.o.kernel.neighbours(ns, d)))).flat(),
      fdb: (await Promise.all(present.map((d) => this.o.kernel.fdb(ns, d)))).flat(),
    };
    const ops = planReconcile(desired, observed);
    if (ops.length > 0) {
      await this.o.kernel.apply(ns, ops);
      this.o.logger.info({ ops: ops.length, peers: peers.length }, "reconciled");
    }
    for (const u of desired.unreachable) {
      if (!this.status.unreachable.some((x) => x.node === u.node))
        this.o.logger.warn(u, "peer not reachable with this backend");
    }
    this.status.unreachable = [...desired.unreachable];
    this.status.peers = peers.length;
    this.status.reconciles++;
  }

  async stop(opts: { releaseLease: boolean }): Promise<void> {
    await this.o.backend.stop?.();
    if (opts.releaseLease && this.#held) await this.#leases.release(this.#held);
  }
}
