import type { Logger } from "pino";
import { BackgroundTasks } from "../common/background-tasks.js";
import { currentNetns, type Kernel, type Netns, netnsPath } from "../kernel/api.js";
import { NftSession, nftArgv, nftOneShot } from "../kernel/nft-session.js";
import { loadNfApply, NfNetlink } from "../kernel/nftables/apply.js";
import { composePlugins } from "../plugins/compose.js";
import { readSpoofCounts } from "../plugins/strata/source-guard.js";
import { ClusterAgent, type ClusterAgentOptions } from "./cluster-agent.js";
import { type CniRejection, type CniServerLimits, startCniServer } from "./cni-server.js";
import { cniSocketPath, defaultCniSocketDir, netnsInode } from "./cni-socket.js";
import { startControlServer } from "./control-socket.js";
import { startHealthServer } from "./health-server.js";
import { startStrandedAddressCollector } from "./stranded-addresses.js";

export interface AgentOptions {
  readonly kernel: Kernel;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Cluster mode: lease a subnet and route to the other nodes (omit for a CNI-only agent). */
  readonly cluster?: Omit<ClusterAgentOptions, "kernel" | "logger" | "signal" | "hostNs">;
  /** Local port for /healthz and /metrics (127.0.0.1 of this network namespace). */
  readonly healthPort?: number;
  /** The agent's own CNI plugin directories (delegates run from here, never from a request's CNI_PATH). */
  readonly cniBinDirs: readonly string[];
  /** Root-only directory of the CNI socket (default /run/strata-cni; the shim is built with it). */
  readonly cniSocketDir?: string;
  readonly cniLimits?: Partial<CniServerLimits>;
  /**
   * The node's network namespace when it is not this process's (an agent host runs many agents):
   * every kernel call, socket and program of this agent is made in it. Default: currentNetns.
   */
  readonly hostNs?: Netns;
  /**
   * How the agent writes nftables (the source guard's table and elements, the masquerade tables):
   * "netlink" (default) from inside the process when the rtnetlink addon has nfApply, no nft
   * process; "nft" through nft processes (as with an older addon, or the iproute2 kernel driver).
   */
  readonly sourceGuardWrites?: "netlink" | "nft";
}

/**
 * The node agent. Today it owns the CNI work (the shim forwards every invocation here);
 * it returns when `signal` aborts, after closing its socket so new invocations fall back to the
 * standalone plugins.
 */
export async function runAgent(opts: AgentOptions): Promise<void> {
  const background = new BackgroundTasks((key, err) =>
    opts.logger.warn({ key, err: String(err) }, "background kernel cleanup failed"),
  );
  const hostNs = opts.hostNs ?? currentNetns;
  const nsPath = netnsPath(hostNs);
  // The source guard's writes: nf_tables netlink in the node's namespace, or else a resident nft
  // there (its first scripts one-shot), closed when the agent stops.
  const nfApply = opts.sourceGuardWrites === "nft" ? undefined : loadNfApply();
  const nfNetlink = nfApply ? new NfNetlink(nfApply, hostNs) : undefined;
  const nft = nfNetlink
    ? undefined
    : new NftSession(nftArgv(hostNs), 10_000, {
        oneShot: nftOneShot((ns, argv, o) => opts.kernel.exec(ns, argv, o), hostNs),
        residentAfter: 4,
      });
  const plugins = composePlugins(opts.kernel, {
    background,
    hostNs,
    ...(nfNetlink ? { nfNetlink } : { nft: nft?.run }),
  });
  const rejected: Record<CniRejection, number> = { overload: 0, "too-large": 0, timeout: 0 };
  let lastWarned = 0;
  // Everything that can be taken by someone else (the socket, the health port) is claimed before
  // the agent leases a subnet: a start that fails must leave nothing behind in the cluster.
  const socketPath = cniSocketPath(opts.cniSocketDir ?? defaultCniSocketDir, await netnsInode(nsPath));
  const server = await startCniServer({
    plugins,
    socketPath,
    cniPath: opts.cniBinDirs,
    limits: opts.cniLimits,
    onRequest: (type, command, ms, exitCode) =>
      opts.logger.info({ type, command, ms: Math.round(ms * 10) / 10, exitCode }, "cni request"),
    onRejected: (reason) => {
      rejected[reason]++;
      // A flood must not also flood the log: one line per 5 s with the counts so far.
      if (Date.now() - lastWarned < 5_000) return;
      lastWarned = Date.now();
      opts.logger.warn(
        { reason, rejected },
        "CNI requests refused (agent busy, request too large or too slow)",
      );
    },
  });
  let cluster: ClusterAgent | undefined;
  let running: Promise<void> = Promise.resolve();
  if (opts.cluster) {
    cluster = new ClusterAgent({
      ...opts.cluster,
      kernel: opts.kernel,
      logger: opts.logger,
      signal: opts.signal,
      hostNs,
      ...(nfNetlink ? { nftables: nfNetlink } : {}),
    });
  }
  const health = opts.healthPort
    ? await startHealthServer(opts.healthPort, () => cluster?.statusNow(), {
        logger: opts.logger,
        cni: () => ({ rejected }),
        netnsPath: nsPath,
        readSpoofCounts: () => readSpoofCounts((argv) => opts.kernel.exec(hostNs, argv)),
      }).catch((err) => {
        nft?.close();
        server.close();
        throw err;
      })
    : undefined;
  if (cluster && opts.cluster) {
    try {
      await cluster.start();
    } catch (err) {
      nft?.close();
      health?.close();
      server.close();
      throw err;
    }
    running = cluster.run();
    startStrandedAddressCollector({
      store: opts.cluster.store,
      node: opts.cluster.node,
      logger: opts.logger,
      signal: opts.signal,
    });
  }
  // The control socket (strata agent rotate-key) once the node is up; root-only by its directory.
  const stateDir = opts.cluster?.stateDir;
  const control =
    cluster && stateDir
      ? await startControlServer(
          stateDir,
          (command) => {
            if (command === "rotate-key") return (cluster as ClusterAgent).rotateKey();
            throw new Error(`unhandled control command ${command}`);
          },
          opts.logger,
        ).catch((err) => {
          // The node networks without it; only rotate-key is lost, and the log says so.
          opts.logger.warn(
            { err: String(err) },
            "control socket not served (strata agent rotate-key will not reach this agent)",
          );
          return undefined;
        })
      : undefined;
  opts.logger.info(
    { socket: socketPath, cniBinDirs: opts.cniBinDirs, sourceGuardWrites: nfNetlink ? "netlink" : "nft" },
    "agent serving CNI requests",
  );
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await running;
  control?.close();
  await cluster?.stop({ releaseLease: false });
  health?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await background.drain();
  nft?.close();
  opts.logger.info("agent stopped");
}
