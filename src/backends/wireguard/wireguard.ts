import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import type { NodeLease } from "../../cluster/node-lease.js";
import { networkAddress } from "../../common/cidr.js";
import { describeError, StrataError } from "../../common/errors.js";
import type { Kernel, LinkSpec, Netns, Route } from "../../kernel/api.js";
import type { Backend, BackendContext, BackendDesiredState, BackendHost, LocalNode } from "../api.js";
import { kernelWireguardDevice } from "./kernel-wireguard.js";
import { uapiDevice, type WireguardDevice } from "./uapi-client.js";
import { isEmptySet } from "./uapi-codec.js";
import {
  chooseWireguardDatapath,
  type WireguardDatapath,
  type WireguardDatapathChoice,
  type WireguardDatapathRequest,
} from "./wireguard-datapath.js";
import { WireguardGoSupervisor } from "./wireguard-go-process.js";
import {
  generateWireguardKeyPair,
  loadOrCreatePrivateKey,
  type WireguardKeyPair,
  writePrivateKey,
} from "./wireguard-key.js";
import {
  desiredPeers,
  planWireguardDevice,
  wgListenPortField,
  wgPublicKeyField,
  wireguardOverhead,
} from "./wireguard-peers.js";

/** The one WireGuard device of a node, for every peer. */
export const wireguardDeviceName = "strata.wg";

export interface WireguardOptions {
  readonly datapath: WireguardDatapathRequest;
  readonly listenPort: number;
  readonly keepalive: number;
  /** Rotate the key pair this often, seconds; 0: only when asked (`strata agent rotate-key`). */
  readonly rotateIntervalSeconds: number;
  /** The agent's state directory: the private key and wireguard-go's run directory live under it. */
  readonly stateDir: string;
}

/** Where the node's private key lives (mode 0600) under the agent's state directory. */
export const wireguardKeyFile = (stateDir: string) => join(stateDir, "wireguard", "private.key");
/** wireguard-go's own /var/run/wireguard (bound over it in its private mount namespace). */
export const wireguardRunDir = (stateDir: string) => join(stateDir, "wireguard", "run");

export class WireguardNotPreparedError extends StrataError {
  constructor() {
    super(
      "backend.not-prepared",
      "the wireguard backend's key and datapath are settled by prepare(), which has not run",
    );
  }
}

/**
 * Pure: the desired kernel state on one node: a route for each peer's pod subnet into the
 * WireGuard device, the node's pod network address as a /32 on it (traffic the node itself sends
 * leaves with a source in its pod subnet: the peer's AllowedIPs for us), and — for the kernel's
 * device only — the device itself (wireguard-go makes its own TUN device, which the backend keeps
 * up and at the MTU).
 */
export function wireguardDesired(
  datapath: WireguardDatapath,
  publicKey: string,
  keepalive: number,
  local: LocalNode,
  peers: readonly NodeLease[],
): BackendDesiredState {
  const dev = wireguardDeviceName;
  const mtu = local.underlayMtu - wireguardOverhead;
  const { peers: usable, unreachable } = desiredPeers(local, peers, publicKey, keepalive);
  const routes: Route[] = usable.flatMap((p) => p.allowedIps.map((dst) => ({ dst, dev })));
  const devices: LinkSpec[] = datapath === "kernel" ? [{ kind: "wireguard", name: dev, mtu }] : [];
  return {
    devices,
    addresses: [[dev, `${networkAddress(local.lease.subnet)}/32`]],
    routes,
    neighbours: [],
    fdb: [],
    unreachable,
  };
}

async function wireguardGoOffer(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dirs = (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":");
  const missing: string[] = [];
  for (const prog of ["wireguard-go", "unshare", "nsenter"]) {
    const found = await Promise.any(dirs.map((d) => access(join(d, prog), constants.X_OK))).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(prog);
  }
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    reason: `${missing.join(", ")} not found on PATH (apt-get install wireguard-go wireguard-tools util-linux)`,
  };
}

interface PeerSync {
  peers: number;
  added: number;
  removed: number;
  at: string;
}

/**
 * WireGuard between nodes (IPv4): each node's key pair (private key in its state directory, public
 * key published with its lease), one device for every peer configured by diff on each full pass
 * (AllowedIPs the peer's pod subnet, endpoint its node address and port, persistent keepalive),
 * routes to remote pod subnets into the device; pod MTU = underlay − 60. prepare() settles the key
 * and the datapath: the kernel's device where the module exists, else wireguard-go, supervised.
 */
export function createWireguardBackend(opts: WireguardOptions): Backend & {
  rotateKey(): Promise<{ publicKey: string; previous: string }>;
} {
  const keyFile = wireguardKeyFile(opts.stateDir);
  const runDir = wireguardRunDir(opts.stateDir);
  let keys: WireguardKeyPair | undefined;
  let choice: WireguardDatapathChoice | undefined;
  let device: WireguardDevice | undefined;
  let supervisor: WireguardGoSupervisor | undefined;
  let ctx: BackendContext | undefined;
  let lastPeers: { local: LocalNode; peers: readonly NodeLease[] } | undefined;
  let lastSync: PeerSync | undefined;
  let rotations: { count: number; lastAt?: string } = { count: 0 };
  let rotateTimer: NodeJS.Timeout | undefined;
  let lastError: string | undefined;
  const dev = wireguardDeviceName;

  /** The device is up at the pod MTU (wireguard-go's TUN device comes up at 1420, down). */
  const ensureLink = async (kernel: Kernel, ns: Netns, local: LocalNode) => {
    const mtu = local.underlayMtu - wireguardOverhead;
    const link = await kernel.link(ns, dev);
    if (link && (link.mtu !== mtu || !link.up))
      await kernel.apply(ns, [{ op: "link.set", name: dev, mtu, up: true }]);
  };

  /** Device settings and peers in line with the newest peer set, by diff. */
  const syncDevice = async (host: BackendHost, local: LocalNode, peers: readonly NodeLease[]) => {
    if (!device || !keys) return;
    const want = desiredPeers(local, peers, keys.publicKey, opts.keepalive).peers;
    const current = await device.read();
    const set = planWireguardDevice(current, {
      privateKey: keys.privateKey,
      listenPort: opts.listenPort,
      peers: want,
    });
    if (!isEmptySet(set)) {
      await device.write(set);
      const removed = set.peers.filter((p) => p.remove).length;
      host.logger.info(
        { added: set.peers.length - removed, removed, key: set.privateKey ? "set" : undefined },
        "wireguard device configured",
      );
      lastSync = {
        peers: want.length,
        added: set.peers.length - removed,
        removed,
        at: new Date().toISOString(),
      };
    } else lastSync ??= { peers: want.length, added: 0, removed: 0, at: new Date().toISOString() };
  };

  const rotateKey = async () => {
    if (!keys || !device || !ctx) throw new WireguardNotPreparedError();
    const republish = ctx.republish;
    if (!republish) throw new WireguardNotPreparedError();
    const previous = keys.publicKey;
    const next = generateWireguardKeyPair();
    // On disk first: an agent that dies now restarts with the new key and publishes it.
    await writePrivateKey(keyFile, next);
    // Then the device, then the lease: peers learn the new key a moment after this node uses it,
    // and each peer's keepalive to the new key re-establishes the session from its side.
    await device.write({ privateKey: next.privateKey, peers: [] });
    keys = next;
    await republish();
    rotations = { count: rotations.count + 1, lastAt: new Date().toISOString() };
    ctx.logger.info({ publicKey: next.publicKey, previous }, "wireguard key rotated and published");
    return { publicKey: next.publicKey, previous };
  };

  return {
    name: "wireguard",
    podMtu: (underlayMtu) => underlayMtu - wireguardOverhead,
    localBackendData() {
      if (!keys) throw new WireguardNotPreparedError();
      return { [wgPublicKeyField]: keys.publicKey, [wgListenPortField]: String(opts.listenPort) };
    },
    async prepare(host) {
      keys = await loadOrCreatePrivateKey(keyFile);
      const kernelModule =
        opts.datapath !== "wireguard-go" && (await host.kernel.probe()).linkKinds.wireguard;
      const wireguardGo =
        opts.datapath === "kernel" ? ({ ok: false, reason: "not asked" } as const) : await wireguardGoOffer();
      choice = chooseWireguardDatapath(opts.datapath, { kernelModule, wireguardGo });
      host.logger.info(
        { backend: "wireguard", ...choice, publicKey: keys.publicKey },
        "wireguard datapath chosen",
      );
    },
    async start(c) {
      if (!choice || !keys) throw new WireguardNotPreparedError();
      ctx = c;
      if (choice.datapath === "kernel") {
        device = kernelWireguardDevice(c.kernel, c.netns, dev, keyFile);
      } else {
        device = uapiDevice(join(runDir, `${dev}.sock`));
        supervisor = new WireguardGoSupervisor({
          netns: c.netns,
          dev,
          runDir,
          logFile: join(opts.stateDir, "wireguard", "wireguard-go.log"),
          logger: c.logger,
          signal: c.signal,
          onReady: async (how) => {
            await ensureLink(c.kernel, c.netns, c.local);
            // An adopted process (the agent restarted) keeps its peers: the first full pass diffs
            // them. A new process has no key and no peers: configure it now and, after a restart,
            // ask for a full pass (its TUN device, address and routes went with the old one).
            if (how === "adopted") return;
            await syncDevice(c, c.local, lastPeers?.peers ?? []);
            if (how === "restarted") c.onChange();
          },
        });
        await supervisor.start();
      }
      if (opts.rotateIntervalSeconds > 0) {
        rotateTimer = setInterval(() => {
          rotateKey().catch((err) => {
            lastError = describeError(err);
            c.logger.error({ err: lastError }, "scheduled wireguard key rotation failed");
          });
        }, opts.rotateIntervalSeconds * 1000);
        c.signal.addEventListener("abort", () => clearInterval(rotateTimer), { once: true });
      }
    },
    desired(local, peers) {
      if (!choice || !keys) throw new WireguardNotPreparedError();
      return wireguardDesired(choice.datapath, keys.publicKey, opts.keepalive, local, peers);
    },
    async applyDatapath(host, local, peers) {
      lastPeers = { local, peers };
      if (choice?.datapath === "wireguard-go") await ensureLink(host.kernel, host.netns, local);
      await syncDevice(host, local, peers);
    },
    rotateKey,
    status: () => ({
      datapath: choice?.datapath,
      datapathReason: choice?.reason,
      device: dev,
      listenPort: opts.listenPort,
      publicKey: keys?.publicKey,
      overhead: wireguardOverhead,
      keepalive: opts.keepalive,
      ...(supervisor ? { wireguardGo: { ...supervisor.status, socket: supervisor.socket } } : {}),
      ...(lastSync ? { peerSync: lastSync } : {}),
      keyRotations: { ...rotations, intervalSeconds: opts.rotateIntervalSeconds },
      ...(lastError ? { lastError } : {}),
    }),
    async stop() {
      clearInterval(rotateTimer);
      // wireguard-go keeps running: traffic flows while the agent restarts (it is adopted then).
      supervisor?.stop();
    },
  };
}
