import type { NodeLease } from "../../cluster/node-lease.js";
import { StrataError } from "../../common/errors.js";
import type { Route } from "../../kernel/api.js";
import {
  SLEEVE_DEVICE,
  SLEEVE_OVERHEAD,
  type SleeveDatapath,
  type SleevePeer,
} from "../../kernel/sleeve/api.js";
import type { Backend, BackendDesiredState, BackendHost, LocalNode } from "../api.js";
import {
  applySleeve,
  type SleeveDatapathFactory,
  sleeveBackendData,
  sleeveCounterPoller,
  sleeveDevice,
  sleevePeerOf,
  sleeveRoute,
} from "../shared/sleeve-peers.js";

export interface SleeveOptions {
  readonly port: number;
  /** The datapath (the composition root binds the built helper); absent: this build has none. */
  readonly datapath?: SleeveDatapathFactory;
}

/** The sleeve datapath cannot run on this node: the message says what is missing. */
export class SleeveUnavailableError extends StrataError {
  constructor(reason: string) {
    super("backend.sleeve-unavailable", `the sleeve backend cannot run here: ${reason}`);
  }
}

/** Pure: the sleeve backend's desired state: the TUN device, and a route per peer on sleeve. */
export function sleeveDesired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState {
  const { device, address } = sleeveDevice(local);
  const routes: Route[] = [];
  const unreachable: { node: string; reason: string }[] = [];
  for (const p of peers) {
    if (p.node === local.lease.node) continue;
    const s = sleevePeerOf(p);
    if ("problem" in s) unreachable.push({ node: p.node, reason: s.problem });
    else routes.push(sleeveRoute(s));
  }
  return { devices: [device], addresses: [address], routes, neighbours: [], fdb: [], unreachable };
}

/** Pure: the helper's peers: every other node on sleeve. */
export function sleevePeers(local: LocalNode, peers: readonly NodeLease[]): SleevePeer[] {
  return peers
    .filter((p) => p.node !== local.lease.node)
    .map(sleevePeerOf)
    .filter((s): s is SleevePeer => !("problem" in s));
}

/**
 * Every pod packet to another node in UDP through the userspace helper (Weave's "sleeve"): works on
 * any kernel with TUN, crosses L3 hops; pod MTU − 36. prepare() checks the helper can run;
 * applyDatapath() starts it (again) and syncs its peer table after each full pass.
 */
export function createSleeveBackend(opts: SleeveOptions): Backend {
  let datapath: SleeveDatapath | undefined;
  let poller: ReturnType<typeof sleeveCounterPoller> | undefined;
  let lastSync: Awaited<ReturnType<typeof applySleeve>> | undefined;
  return {
    name: "sleeve",
    podMtu: (underlayMtu) => underlayMtu - SLEEVE_OVERHEAD,
    localBackendData: () => sleeveBackendData(opts.port, true),
    async prepare(host: BackendHost) {
      datapath = opts.datapath?.(host.logger);
      const a = datapath
        ? await datapath.available()
        : ({ ok: false, reason: "this build has no sleeve datapath" } as const);
      if (!a.ok) throw new SleeveUnavailableError(a.reason);
      poller = datapath ? sleeveCounterPoller(datapath) : undefined;
    },
    desired: sleeveDesired,
    async applyDatapath(host, local, peers) {
      if (!datapath) return;
      lastSync = await applySleeve(datapath, host, local, opts.port, sleevePeers(local, peers));
      poller?.start();
    },
    status: () => ({
      datapath: "sleeve",
      datapathReason: "--backend sleeve",
      sleeveDevice: SLEEVE_DEVICE,
      sleevePort: opts.port,
      overhead: SLEEVE_OVERHEAD,
      sleeve: { ...datapath?.status(), counters: poller?.last },
      ...(lastSync ? { peerTableSync: lastSync } : {}),
    }),
    async stop() {
      poller?.stop();
      await datapath?.stop();
    },
  };
}
