import type { Logger } from "pino";
import type { NodeLease } from "../../cluster/node-lease.js";
import { networkAddress } from "../../common/cidr.js";
import type { LinkSpec, Route } from "../../kernel/api.js";
import {
  SLEEVE_DEFAULT_PORT,
  SLEEVE_DEVICE,
  SLEEVE_OVERHEAD,
  type SleeveConfig,
  type SleeveDatapath,
  type SleevePeer,
} from "../../kernel/sleeve/api.js";
import type { BackendHost, LocalNode } from "../api.js";
import type { BackendCliFlag } from "../definition.js";

/**
 * The sleeve datapath as the backends use it (the sleeve backend for every peer; ipip and gre when
 * a node falls back to it): what a node publishes, the device and routes, and the helper's config
 * and peers. A node on sleeve publishes `datapath: sleeve` and its `sleevePort` with its lease.
 */

/** `--sleeve-port`: the sleeve backend's, and the ipip/gre backends' for their fallback to sleeve. */
export const sleevePortFlag: BackendCliFlag = {
  flag: "--sleeve-port <port>",
  help: "UDP port of the sleeve userspace datapath (every node must reach it on every other node)",
  default: String(SLEEVE_DEFAULT_PORT),
};

/** The composition root's sleeve datapath factory (the built helper); one datapath per backend. */
export type SleeveDatapathFactory = (logger: Logger) => SleeveDatapath;

/**
 * What a node publishes with its lease: `sleevePort` when it can take sleeve packets, and
 * `datapath: sleeve` when it can take nothing else (peers then use sleeve towards it).
 */
export const sleeveBackendData = (port: number, only: boolean) => ({
  ...(only ? { datapath: "sleeve" } : {}),
  sleevePort: String(port),
});

/** Does the peer take only sleeve packets (its lease says `datapath: sleeve`)? */
export const onSleeveOnly = (peer: NodeLease): boolean => peer.backendData.datapath === "sleeve";

/** Pure: the peer's sleeve endpoint from its lease, or why it has none. */
export function sleevePeerOf(peer: NodeLease): SleevePeer | { readonly problem: string } {
  const port = Number(peer.backendData.sleevePort);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { problem: `peer cannot take sleeve packets (it publishes no sleevePort)` };
  if (peer.subnet.includes(":") || peer.publicIp.includes(":"))
    return { problem: `sleeve carries IPv4 only; ${peer.node} leased ${peer.subnet} at ${peer.publicIp}` };
  return { node: peer.node, nodeIp: peer.publicIp, podCidr: peer.subnet, port };
}

export const sleeveMtu = (underlayMtu: number) => underlayMtu - SLEEVE_OVERHEAD;

/** Pure: the TUN device (with this node's pod network address as /32, as the tunnels do) and its MTU. */
export function sleeveDevice(local: LocalNode): { device: LinkSpec; address: [string, string] } {
  return {
    device: { kind: "tun", name: SLEEVE_DEVICE, mtu: sleeveMtu(local.underlayMtu) },
    address: [SLEEVE_DEVICE, `${networkAddress(local.lease.subnet)}/32`],
  };
}

/** Pure: a sleeve peer's route: its pod subnet into the TUN device. */
export const sleeveRoute = (peer: SleevePeer): Route => ({ dst: peer.podCidr, dev: SLEEVE_DEVICE });

/** Pure: the helper's config on this node. */
export function sleeveConfig(local: LocalNode, port: number): SleeveConfig {
  return {
    tunDev: SLEEVE_DEVICE,
    localIp: local.lease.publicIp,
    localCidr: local.lease.subnet,
    port,
    mtu: sleeveMtu(local.underlayMtu),
  };
}

/** After a full pass: the helper runs (started again if it is not) and holds exactly `peers`. */
export async function applySleeve(
  datapath: SleeveDatapath,
  host: BackendHost,
  local: LocalNode,
  port: number,
  peers: readonly SleevePeer[],
) {
  await datapath.ensure(host.netns, sleeveConfig(local, port));
  const r = await datapath.syncPeers(peers);
  if (r.added + r.removed + r.changed > 0) host.logger.info({ ...r }, "sleeve peer table synced");
  return { peers: peers.length, ...r, at: new Date().toISOString() };
}

/**
 * Counters for /healthz and /metrics, read every few seconds in the background (status() is
 * synchronous); stopped with the backend.
 */
export function sleeveCounterPoller(datapath: SleeveDatapath, everyMs = 2000) {
  let last: Awaited<ReturnType<SleeveDatapath["counters"]>>;
  let timer: NodeJS.Timeout | undefined;
  const read = () =>
    datapath.counters().then(
      (c) => {
        last = c ?? last;
      },
      () => undefined,
    );
  return {
    start() {
      if (timer) return;
      void read();
      timer = setInterval(read, everyMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
    get last() {
      return last;
    },
  };
}
