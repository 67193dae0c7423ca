import type { NodeLease } from "../../cluster/node-lease.js";
import { networkAddress } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";
import type { Kernel, LinkSpec, Route } from "../../kernel/api.js";
import type {
  BpfTunnelConfig,
  BpfTunnelDatapath,
  TunnelPeer,
  TunnelProto,
} from "../../kernel/bpf-tunnel/api.js";
import { tunnelOverhead } from "../../kernel/bpf-tunnel/api.js";
import {
  SLEEVE_DEFAULT_PORT,
  SLEEVE_OVERHEAD,
  type SleeveDatapath,
  type SleevePeer,
} from "../../kernel/sleeve/api.js";
import type { Backend, BackendDesiredState, BackendHost, LocalNode } from "../api.js";
import { directRoute, isL2Adjacent } from "../shared/direct-routes.js";
import {
  applySleeve,
  onSleeveOnly,
  type SleeveDatapathFactory,
  sleeveBackendData,
  sleeveCounterPoller,
  sleeveDevice,
  sleevePeerOf,
  sleeveRoute,
} from "../shared/sleeve-peers.js";
import {
  chooseTunnelDatapath,
  type TunnelDatapath,
  type TunnelDatapathChoice,
  type TunnelDatapathRequest,
} from "./tunnel-datapath.js";

/** What makes one tunnel backend: its protocol, its mode, and (GRE) its key. */
export interface TunnelSpec {
  readonly proto: TunnelProto;
  /** CrossSubnet: a direct route to peers on this node's underlay subnet, the tunnel to the rest. */
  readonly crossSubnet: boolean;
  /** GRE only: the key every packet carries (RFC 2890 §2.1); absent: no key. */
  readonly greKey?: number;
}

export interface TunnelOptions extends TunnelSpec {
  readonly datapath: TunnelDatapathRequest;
  /** The tc-BPF datapath for the node's kernel; absent: this build has none. */
  readonly bpfTunnel?: (kernel: Kernel) => BpfTunnelDatapath;
  /** The sleeve userspace datapath: the fallback where neither module nor BPF works; absent: none. */
  readonly sleeve?: SleeveDatapathFactory;
  /** --sleeve-port (default 6783). */
  readonly sleevePort?: number;
}

/** The one tunnel device of a node, for every peer: strata.ipip or strata.gre. */
export const tunnelDeviceName = (proto: TunnelProto) => `strata.${proto}`;

/** The backend's (and lab model's) name: ipip, ipip-crosssubnet, gre, gre-crosssubnet. */
export const tunnelBackendName = (s: Pick<TunnelSpec, "proto" | "crossSubnet">) =>
  s.crossSubnet ? `${s.proto}-crosssubnet` : s.proto;

/** Pure: the peers this node reaches through the tunnel (all, or in CrossSubnet those off its subnet). */
export function tunnelledPeers(spec: TunnelSpec, local: LocalNode, peers: readonly NodeLease[]): NodeLease[] {
  return peers.filter(
    (p) => p.node !== local.lease.node && !(spec.crossSubnet && isL2Adjacent(local.lease, p)),
  );
}

/** Why a peer cannot take our tunnel packets (another tunnel, another GRE key), or undefined. */
function mismatch(spec: TunnelSpec, peer: NodeLease): string | undefined {
  if (peer.subnet.includes(":") || peer.publicIp.includes(":"))
    return `${spec.proto} carries IPv4 only; ${peer.node} leased ${peer.subnet} at ${peer.publicIp}`;
  const theirs = peer.backendData.tunnel;
  if (theirs !== spec.proto)
    return `peer runs ${theirs ? `the ${theirs} tunnel` : `the ${peer.backend} backend`}, not ${spec.proto}: it would drop our packets`;
  const key = peer.backendData.greKey;
  const ours = spec.greKey === undefined ? undefined : String(spec.greKey);
  if (spec.proto === "gre" && key !== ours)
    return `peer's GRE key is ${key ?? "none"}, ours ${ours ?? "none"}: the kernel drops GRE packets whose key differs`;
  return undefined;
}

/**
 * Pure: the desired kernel state of a tunnel backend on one node. Both datapaths use one device
 * (`strata.<proto>`) carrying this node's pod subnet's network address as a /32 (so traffic the
 * node itself sends to remote pods leaves with a source inside its pod subnet, which the peer's
 * decapsulation accepts).
 * - kernel: an ipip/gre device `local <node> remote any` (Calico's tunl0 pattern) and routes
 *   `<peer pods> via <peer node> dev strata.<proto> onlink`: the kernel takes the outer
 *   destination from the route's gateway.
 * - bpf: a TUN device and routes `<peer pods> dev strata.<proto>`: the tc program on its egress
 *   finds the outer destination in its peer map (applyDatapath keeps that map in line).
 */
export function tunnelDesired(
  spec: TunnelSpec,
  datapath: TunnelDatapath,
  local: LocalNode,
  peers: readonly NodeLease[],
  sleeveOk = datapath === "sleeve",
): BackendDesiredState {
  const dev = tunnelDeviceName(spec.proto);
  const mtu = local.underlayMtu - tunnelOverhead(spec.proto, spec.greKey);
  const routes: Route[] = [];
  const unreachable: { node: string; reason: string }[] = [];
  const tunnelled = new Set(tunnelledPeers(spec, local, peers));
  const sleeve = new Set(tunnelSleevePeers(spec, datapath, sleeveOk, local, peers).map((p) => p.node));
  for (const peer of peers) {
    if (peer.node === local.lease.node) continue;
    if (!tunnelled.has(peer)) {
      routes.push(directRoute(peer, local.underlayDev));
      continue;
    }
    const problem = sleeveProblem(spec, datapath, sleeveOk, peer) ?? mismatch(spec, peer);
    if (problem) unreachable.push({ node: peer.node, reason: problem });
    else if (sleeve.has(peer.node)) {
      const s = sleevePeerOf(peer);
      if (!("problem" in s)) routes.push(sleeveRoute(s));
    } else if (datapath === "kernel")
      routes.push({ dst: peer.subnet, via: peer.publicIp, dev, onlink: true });
    else routes.push({ dst: peer.subnet, dev });
  }
  const device: LinkSpec =
    datapath === "kernel"
      ? spec.proto === "gre"
        ? { kind: "gre", name: dev, local: local.lease.publicIp, remote: "any", key: spec.greKey, mtu }
        : { kind: "ipip", name: dev, local: local.lease.publicIp, remote: "any", mtu }
      : { kind: "tun", name: dev, mtu };
  // On sleeve alone there is no tunnel device; with sleeve peers the sleeve TUN comes too.
  const sleeveDev = datapath === "sleeve" || sleeve.size > 0 ? sleeveDevice(local) : undefined;
  return {
    devices: [...(datapath === "sleeve" ? [] : [device]), ...(sleeveDev ? [sleeveDev.device] : [])],
    addresses: [
      ...(datapath === "sleeve"
        ? []
        : [[dev, `${networkAddress(local.lease.subnet)}/32`] as [string, string]]),
      ...(sleeveDev ? [sleeveDev.address] : []),
    ],
    routes,
    neighbours: [],
    fdb: [],
    unreachable,
  };
}

/**
 * Why a peer cannot be reached when sleeve is involved, or undefined: a node on sleeve reaches only
 * peers that take sleeve packets; a node on kernel/BPF reaches a sleeve-only peer only if its own
 * sleeve helper can run.
 */
function sleeveProblem(
  spec: TunnelSpec,
  datapath: TunnelDatapath,
  sleeveOk: boolean,
  peer: NodeLease,
): string | undefined {
  if (datapath === "sleeve") {
    const s = sleevePeerOf(peer);
    return "problem" in s ? `this node runs ${spec.proto} on sleeve; ${s.problem}` : undefined;
  }
  if (onSleeveOnly(peer) && !sleeveOk)
    return `peer runs ${spec.proto} on the sleeve datapath and this node's sleeve helper cannot run`;
  return undefined;
}

/**
 * Pure: the tunnelled peers reached through sleeve (Weave's per-peer fastdp/sleeve): all of them
 * when this node is on sleeve, else those that take nothing but sleeve (when our helper can run).
 */
export function tunnelSleevePeers(
  spec: TunnelSpec,
  datapath: TunnelDatapath,
  sleeveOk: boolean,
  local: LocalNode,
  peers: readonly NodeLease[],
): SleevePeer[] {
  return tunnelledPeers(spec, local, peers)
    .filter(
      (p) => mismatch(spec, p) === undefined && sleeveProblem(spec, datapath, sleeveOk, p) === undefined,
    )
    .filter((p) => datapath === "sleeve" || onSleeveOnly(p))
    .map(sleevePeerOf)
    .filter((s): s is SleevePeer => !("problem" in s));
}

/** Pure: the BPF datapath's configuration on this node. */
export function bpfTunnelConfig(spec: TunnelSpec, local: LocalNode): BpfTunnelConfig {
  return {
    proto: spec.proto,
    ...(spec.proto === "gre" && spec.greKey !== undefined ? { greKey: spec.greKey } : {}),
    tunnelDev: tunnelDeviceName(spec.proto),
    underlayDev: local.underlayDev,
    localIp: local.lease.publicIp,
    mtu: local.underlayMtu - tunnelOverhead(spec.proto, spec.greKey),
  };
}

/** Pure: the BPF datapath's peer set: the tunnelled peers that can take our packets. */
export function bpfTunnelPeers(
  spec: TunnelSpec,
  local: LocalNode,
  peers: readonly NodeLease[],
): TunnelPeer[] {
  return tunnelledPeers(spec, local, peers)
    .filter((p) => mismatch(spec, p) === undefined && !onSleeveOnly(p))
    .map((p) => ({ node: p.node, nodeIp: p.publicIp, podCidr: p.subnet }));
}

/** desired() was asked before prepare() chose the datapath: a wiring bug in the caller. */
export class TunnelNotPreparedError extends StrataError {
  constructor(name: string) {
    super("backend.not-prepared", `the ${name} backend's datapath is chosen by prepare(), which has not run`);
  }
}

/**
 * IPIP or GRE between nodes, IPv4 only. prepare() picks the node's datapath (the kernel's tunnel
 * device where the module exists, else the tc-BPF datapath); desired() is the device and routes;
 * with BPF, applyDatapath() attaches the programs (ensure) and syncs the peer map each full pass.
 */
export function createTunnelBackend(opts: TunnelOptions): Backend {
  const name = tunnelBackendName(opts);
  const spec: TunnelSpec = { proto: opts.proto, crossSubnet: opts.crossSubnet, greKey: opts.greKey };
  let choice: TunnelDatapathChoice | undefined;
  let bpf: BpfTunnelDatapath | undefined;
  let lastSync: { peers: number; added: number; removed: number; changed: number; at: string } | undefined;
  const sleevePort = opts.sleevePort ?? SLEEVE_DEFAULT_PORT;
  let sleeve: SleeveDatapath | undefined; // set when the helper can run here
  let poller: ReturnType<typeof sleeveCounterPoller> | undefined;
  let sleevePeers: SleevePeer[] = [];
  let lastSleeveSync: Awaited<ReturnType<typeof applySleeve>> | undefined;
  let peerDatapaths: Record<string, TunnelDatapath> = {};
  return {
    name,
    podAttachment: "routed",
    podMtu: (underlayMtu) =>
      underlayMtu -
      (choice?.datapath === "sleeve" ? SLEEVE_OVERHEAD : tunnelOverhead(opts.proto, opts.greKey)),
    localBackendData: () => ({
      tunnel: opts.proto,
      ...(opts.proto === "gre" && opts.greKey !== undefined ? { greKey: String(opts.greKey) } : {}),
      ...(sleeve ? sleeveBackendData(sleevePort, choice?.datapath === "sleeve") : {}),
    }),
    async prepare(host: BackendHost) {
      const candidate = opts.sleeve?.(host.logger);
      const sleeveOffer = candidate ? await candidate.available() : undefined;
      sleeve = sleeveOffer?.ok ? candidate : undefined;
      poller = sleeve ? sleeveCounterPoller(sleeve) : undefined;
      const datapath = opts.bpfTunnel?.(host.kernel);
      const kernelModule = opts.datapath !== "bpf" && (await host.kernel.probe()).linkKinds[opts.proto];
      const bpfNeeded = opts.datapath === "bpf" || (opts.datapath === "auto" && !kernelModule);
      const bpfOffer = !bpfNeeded
        ? ({ ok: false, reason: "not asked" } as const)
        : datapath
          ? await datapath.available()
          : ({
              ok: false,
              reason: "this build has no tc-BPF tunnel datapath (src/kernel/bpf-tunnel)",
            } as const);
      choice = chooseTunnelDatapath(opts.proto, opts.datapath, {
        kernelModule,
        bpf: bpfOffer,
        ...(sleeveOffer ? { sleeve: sleeveOffer } : {}),
      });
      bpf = choice.datapath === "bpf" ? datapath : undefined;
      host.logger.info({ backend: name, ...choice }, "tunnel datapath chosen");
    },
    desired(local, peers) {
      if (!choice) throw new TunnelNotPreparedError(name);
      return tunnelDesired(spec, choice.datapath, local, peers, sleeve !== undefined);
    },
    async applyDatapath(host, local, peers) {
      if (choice) {
        const d = choice.datapath;
        sleevePeers = sleeve ? tunnelSleevePeers(spec, d, true, local, peers) : [];
        const onSleeve = new Set(sleevePeers.map((p) => p.node));
        peerDatapaths = Object.fromEntries(
          tunnelledPeers(spec, local, peers)
            .filter((p) => mismatch(spec, p) === undefined)
            .map((p) => [p.node, onSleeve.has(p.node) ? "sleeve" : d]),
        );
      }
      if (sleeve && choice) {
        if (choice.datapath === "sleeve" || sleevePeers.length > 0 || sleeve.status().running) {
          lastSleeveSync = await applySleeve(sleeve, host, local, sleevePort, sleevePeers);
          poller?.start();
        }
      }
      if (!bpf) return; // the kernel device needs nothing beyond desired()
      const config = bpfTunnelConfig(spec, local);
      const tunnelPeers = bpfTunnelPeers(spec, local, peers);
      // Both are idempotent: ensure re-attaches a program someone removed, syncPeers diffs the map.
      await bpf.ensure(host.netns, config);
      const r = await bpf.syncPeers(host.netns, config, tunnelPeers);
      if (r.added + r.removed + r.changed > 0) host.logger.info({ ...r }, "tunnel peer map synced");
      lastSync = { peers: tunnelPeers.length, ...r, at: new Date().toISOString() };
    },
    status: () => ({
      datapath: choice?.datapath,
      datapathReason: choice?.reason,
      tunnel: opts.proto,
      tunnelDevice: tunnelDeviceName(opts.proto),
      tunnelMode: opts.crossSubnet ? "crosssubnet" : "always",
      overhead: tunnelOverhead(opts.proto, opts.greKey),
      ...(opts.greKey !== undefined ? { greKey: opts.greKey } : {}),
      ...(lastSync ? { peerMapSync: lastSync } : {}),
      // Weave's `status connections`: how each peer is reached, fast datapath or sleeve.
      peerDatapaths,
      ...(sleeve ? { sleevePort, sleeve: { ...sleeve.status(), counters: poller?.last } } : {}),
      ...(lastSleeveSync ? { sleeveTableSync: lastSleeveSync } : {}),
    }),
    async stop() {
      poller?.stop();
      await sleeve?.stop();
    },
  };
}
