import { setMaxListeners } from "node:events";
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { Command, CommanderError } from "commander";
import { type DestinationStream, type Logger, pino } from "pino";
import { runAgent } from "../agent/run-agent.js";
import type { BackendDefinition, BackendFlagValues } from "../backends/definition.js";
import { backendRegistry, findBackend } from "../backends/registry.js";
import { BgpConfigStore } from "../cluster/bgp-config.js";
import { type Kernel, namedNetns, netnsRunDir } from "../kernel/api.js";
import { builtTunnelObjectPath, createBpfTunnelDatapath } from "../kernel/bpf-tunnel/api.js";
import { createIproute2Kernel, spawnProgram } from "../kernel/iproute2/index.js";
import { rtnetlinkAddonPath, withRtnetlink } from "../kernel/rtnetlink/driver.js";
import { createSleeveDatapath } from "../kernel/sleeve/datapath.js";
import { builtSleeveHelperPath } from "../kernel/sleeve/helper-path.js";
import { SpawnPool } from "../process/spawn-pool.js";
import { addAgentFlags } from "./agent-flags.js";
import { type AgentCliOptions, checkAgentFlags, createBackend, openDatastore } from "./agent-wiring.js";
import { UsageError } from "./options.js";
import { spawnHelperPath } from "./paths.js";

/** Where one agent runs when a process hosts several (see launchAgent). */
export interface AgentPlacement {
  /** The node's network namespace, a named one (/run/netns/<name>); absent: this process's own (today's behaviour). */
  readonly netns?: string;
  /** Append the agent's log (pino JSON lines) to this file instead of stdout. */
  readonly logFile?: string;
  /** Programs the agent starts go through this pool (one pool shared by every agent of a host); absent: the agent makes its own from --spawn-helpers and closes it when it ends. */
  readonly pool?: SpawnPool;
}

/** Pure-ish: parse `strata agent` arguments (what follows "agent"), same flags/defaults/env as the command; a bad flag throws UsageError (no process.exit). */
export function parseAgentArgs(args: readonly string[]): AgentCliOptions & BackendFlagValues {
  return parseAgentArgsWith(args, backendRegistry);
}

function parseAgentArgsWith(
  args: readonly string[],
  registry: readonly BackendDefinition[],
): AgentCliOptions & BackendFlagValues {
  const cmd = addAgentFlags(new Command("agent"), registry)
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    cmd.parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError)
      throw new UsageError(undefined, `agent: ${err.message.replace(/^error: /, "")}`, { cause: err });
    throw err;
  }
  return withAgentEnv(cmd.opts<AgentCliOptions & BackendFlagValues>());
}

/** The flags whose default comes from the environment, as `strata agent` reads them. */
function withAgentEnv<T extends AgentCliOptions>(o: T): T {
  return {
    ...o,
    spawnHelpers: o.spawnHelpers ?? process.env.STRATA_SPAWN_HELPERS,
    kernelDriver: o.kernelDriver ?? process.env.STRATA_KERNEL_DRIVER,
  };
}

/** Run one agent until `signal` aborts (then it stops as on SIGTERM and resolves), or reject (UsageError etc.) if it cannot start. No process-wide side effects: no process.on(signal), no process.exit, no writes to stdout when logFile is given. */
export async function launchAgent(
  args: readonly string[],
  place: AgentPlacement,
  signal: AbortSignal,
): Promise<void> {
  const o = parseAgentArgsWith(args, backendRegistry);
  // The agent's own signal, following the caller's: a host may pass one signal to all its agents,
  // and each agent's parts listen to it (Node warns past 10 listeners on one signal).
  const own = new AbortController();
  setMaxListeners(0, own.signal);
  const follow = () => own.abort();
  if (signal.aborted) own.abort();
  else signal.addEventListener("abort", follow, { once: true });
  try {
    await runParsedAgent(o, place, own.signal, backendRegistry);
  } finally {
    signal.removeEventListener("abort", follow);
  }
}

/** Pure: why `placement` cannot host an agent with these flags, as a UsageError; undefined when it can. */
export function placementProblem(
  o: Pick<AgentCliOptions, "backend" | "datastore">,
  place: Pick<AgentPlacement, "netns">,
  registry: readonly BackendDefinition[] = backendRegistry,
): UsageError | undefined {
  if (place.netns === undefined) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(place.netns))
    return new UsageError(
      "netns",
      `"${place.netns}" is not a namespace name under ${netnsRunDir} (letters, digits, '.', '_', '-')`,
    );
  const def = findBackend(registry, o.backend);
  if (def && !def.hostable)
    return new UsageError(
      "--backend",
      `the ${def.name} backend cannot run for another network namespace (${place.netns}); run its agent as its own process inside the node (nsenter --net=${netnsRunDir}/${place.netns} strata agent ...)`,
    );
  if (o.datastore?.startsWith("etcd:"))
    return new UsageError(
      "--datastore",
      `etcd is reached over TCP from this process's namespace, not ${place.netns}'s: use embedded:<socket> for an agent run for another namespace, or run it as its own process`,
    );
  return undefined;
}

/** The agent's log: stdout, or appended to `file` (the stream is ended when the agent stops). */
function agentLogger(level: string, netns: string | undefined, file: string | undefined) {
  // pid and hostname named here, not left to pino: pino reads them as it loads, and the lab's
  // agents load from a startup snapshot built by another process (scripts/build-agent.mjs).
  const base = { pid: process.pid, hostname: hostname(), ...(netns ? { netns } : {}) };
  if (!file) return { logger: pino({ level, base }), end: async () => {} };
  // Lines gathered up to 4 KiB and written at least every 250 ms: an agent host's 100 agents each
  // wrote a line at a time, and those writes were a twentieth of its time as a mesh came up. The
  // stream is flushed as the agent stops; a host killed outright loses at most its last 250 ms.
  const dest = pino.destination({
    dest: file,
    append: true,
    mkdir: true,
    sync: false,
    minLength: 4096,
    periodicFlush: 250,
  });
  const logger: Logger = pino({ level, base }, dest as DestinationStream);
  const end = () =>
    new Promise<void>((resolve) => {
      dest.once("close", () => resolve());
      dest.once("error", () => resolve());
      dest.end();
    });
  return { logger, end };
}

/**
 * The agent of already parsed flags (the command's action and launchAgent): every flag checked
 * first (a UsageError naming it), then the backend, datastore, log, spawn pool and kernel driver,
 * then runAgent until `signal` aborts. What it made it closes; a given pool is left open.
 */
export async function runParsedAgent(
  o: AgentCliOptions & BackendFlagValues,
  place: AgentPlacement,
  signal: AbortSignal,
  registry: readonly BackendDefinition[],
): Promise<void> {
  // First every flag is checked (one line naming the flag, exit 2): a bad value, a datastore flag
  // problem (no CA for https, an unreadable key, ...) or a backend's secret stops the agent
  // before anything starts.
  const flags = checkAgentFlags(withAgentEnv(o));
  const problem = placementProblem(o, place, registry);
  if (problem) throw problem;
  if (place.netns !== undefined) {
    const file = `${netnsRunDir}/${place.netns}`;
    const isNs = (() => {
      try {
        return statSync(file).isFile();
      } catch {
        return false;
      }
    })();
    if (!isNs)
      throw new UsageError(
        "netns",
        `no network namespace ${file} (make it with ip netns add ${place.netns})`,
      );
  }
  // The ipip and gre backends use the tc-BPF datapath where the kernel has no tunnel module.
  const bpfTunnel = (kernel: Kernel) =>
    createBpfTunnelDatapath({ objectPath: builtTunnelObjectPath, kernel });
  // The sleeve backend, and ipip/gre where neither module nor BPF works: the userspace helper.
  const sleeve = (logger: Logger) => createSleeveDatapath({ helperPath: builtSleeveHelperPath, logger });
  // The cluster's BGP topology in the datastore (`strata bgp route-reflectors`), followed live
  // once the agent runs (the datastore is opened after the backend's flags are checked).
  const bgpConfig = (s: AbortSignal) => {
    if (!store) throw new Error("no datastore: the agent runs without --node");
    return new BgpConfigStore(store).watch(s);
  };
  const backend = o.node
    ? createBackend(
        o,
        o.node,
        registry,
        { bpfTunnel, sleeve, stateDir: o.stateDir, bgpConfig },
        flags.clusterCidr6 !== undefined || flags.clusterCidr.includes(":"),
      )
    : undefined;
  const store = o.node
    ? openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey })
    : undefined;
  const log = agentLogger(o.logLevel, place.netns, place.logFile);
  const { logger } = log;
  // A few small helper processes start programs for the agent: forking the agent itself costs
  // more the larger its heap grows (bench/README.md). A host shares one pool among its agents.
  const ownPool =
    !place.pool && existsSync(spawnHelperPath)
      ? new SpawnPool(spawnHelperPath, flags.spawnHelpers, spawnProgram)
      : undefined;
  const pool = place.pool ?? ownPool;
  const iproute2 = createIproute2Kernel({ runner: pool?.run });
  const kernel = flags.kernelDriver === "rtnetlink" ? withRtnetlink(iproute2) : iproute2;
  if (kernel !== iproute2) logger.info({ kernelDriver: "rtnetlink" }, "kernel driver");
  else if (flags.kernelDriver === "rtnetlink")
    logger.warn(
      { addon: rtnetlinkAddonPath },
      "rtnetlink addon not built: every kernel call goes through ip/bridge processes",
    );
  try {
    await runAgent({
      kernel,
      logger,
      signal,
      ...(place.netns !== undefined ? { hostNs: namedNetns(place.netns) } : {}),
      healthPort: flags.healthPort,
      // The iproute2 driver means no addon: the source guard's writes go through nft then too.
      sourceGuardWrites: flags.kernelDriver === "rtnetlink" ? "netlink" : "nft",
      cniBinDirs: o.cniBinDir.split(":").filter(Boolean),
      cniSocketDir: o.cniSocketDir,
      cniLimits: {
        maxInFlight: flags.cniMaxRequests,
        readTimeoutMs: flags.cniReadTimeoutMs,
      },
      cluster:
        o.node && store && backend
          ? {
              store,
              node: o.node,
              clusterCidr: flags.clusterCidr,
              subnetLen: flags.subnetLen,
              ...(flags.clusterCidr6
                ? { clusterCidr6: flags.clusterCidr6, subnetLen6: flags.subnetLen6 }
                : {}),
              underlayDev: o.underlayDev,
              backend,
              leaseTtlSeconds: flags.leaseTtlSeconds,
              heartbeatTtlSeconds: flags.heartbeatTtlSeconds,
              datastoreTimeoutSeconds: flags.datastoreTimeoutSeconds,
              resyncMs: flags.resyncSeconds * 1000,
              fullResyncMs: flags.fullResyncSeconds * 1000,
              routeChangeWindowMs: flags.routeChangeWindowMs,
              stateDir: o.stateDir,
              masquerade: o.masquerade,
              ...(flags.podAttachment ? { podAttachment: flags.podAttachment } : {}),
            }
          : undefined,
    });
  } catch (err) {
    // Its caller reports it too; in a log file of its own, the agent's end is in its log.
    if (place.logFile)
      logger.error({ err: err instanceof Error ? err.message : String(err) }, "agent stopped by an error");
    throw err;
  } finally {
    await store?.close();
    ownPool?.close();
    await log.end();
  }
}
