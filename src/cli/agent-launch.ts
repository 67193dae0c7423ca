import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { Command, CommanderError } from "commander";
import { type Logger, pino } from "pino";
import { runAgent } from "../agent/run-agent.js";
import type { BackendDefinition, BackendFlagValues } from "../backends/definition.js";
import { backendRegistry } from "../backends/registry.js";
import { BgpConfigStore } from "../cluster/bgp-config.js";
import type { Datastore } from "../datastore/api.js";
import { currentNetns, type Kernel, namedNetns } from "../kernel/api.js";
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

/** Where one agent runs, when it is not a node's own process (an agent host's agents). */
export interface AgentPlacement {
  /** The node's network namespace, a named one (/run/netns/<name>); absent: this process's own. */
  readonly netns?: string;
  /** Append the agent's log (pino JSON lines) to this file instead of stdout. */
  readonly logFile?: string;
  /** Programs the agent starts go through this pool (shared by a host's agents); absent: its own. */
  readonly pool?: SpawnPool;
}

/** Backends whose agents can run outside their node's namespace (the others start daemons or pin BPF there). */
export const placeableBackends: readonly string[] = ["vxlan", "vxlan-crosssubnet", "host-gw", "bgp"];

/** `strata agent` arguments (what follows "agent"), parsed as the command does; a bad flag throws UsageError. */
export function parseAgentArgs(args: readonly string[]): AgentCliOptions & BackendFlagValues {
  const cmd = addAgentFlags(new Command("agent"), backendRegistry)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .allowExcessArguments(false);
  try {
    cmd.parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(undefined, err.message.replace(/^error: /, ""));
    throw err;
  }
  return cmd.opts<AgentCliOptions & BackendFlagValues>();
}

/**
 * Run one agent until `signal` aborts (it then stops as on SIGTERM and this resolves), or reject
 * when it cannot start (a bad flag: UsageError). No process-wide effects: the caller handles
 * signals and exit codes. `strata agent` calls this for the agent of the node it runs in; an agent
 * host calls it once per node, each with its node's namespace.
 */
export function launchAgent(
  args: readonly string[],
  place: AgentPlacement,
  signal: AbortSignal,
): Promise<void> {
  return launchParsedAgent(parseAgentArgs(args), place, signal);
}

/** launchAgent with the flags already parsed (`strata agent`'s action), from `registry`'s backends. */
export async function launchParsedAgent(
  o: AgentCliOptions & BackendFlagValues,
  place: AgentPlacement,
  signal: AbortSignal,
  registry: readonly BackendDefinition[] = backendRegistry,
): Promise<void> {
  if (place.netns !== undefined && !placeableBackends.includes(o.backend))
    throw new UsageError(
      "--backend",
      `the ${o.backend} backend's agent must run as its own process inside its node (agents in an agent host: ${placeableBackends.join(", ")})`,
    );
  const hostNs = place.netns !== undefined ? namedNetns(place.netns) : currentNetns;
  // First every flag is checked (one line naming the flag, exit 2): a bad value, a datastore flag
  // problem (no CA for https, an unreadable key, ...) or a backend's secret stops the agent
  // before anything starts.
  const flags = checkAgentFlags({
    ...o,
    spawnHelpers: o.spawnHelpers ?? process.env.STRATA_SPAWN_HELPERS,
    kernelDriver: o.kernelDriver ?? process.env.STRATA_KERNEL_DRIVER,
  });
  // The ipip and gre backends use the tc-BPF datapath where the kernel has no tunnel module.
  const bpfTunnel = (kernel: Kernel) =>
    createBpfTunnelDatapath({ objectPath: builtTunnelObjectPath, kernel });
  // The sleeve backend, and ipip/gre where neither module nor BPF works: the userspace helper.
  const sleeve = (logger: Logger) => createSleeveDatapath({ helperPath: builtSleeveHelperPath, logger });
  let store: Datastore | undefined;
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
  store = o.node ? openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey }) : undefined;
  // pid and hostname named here, not left to pino: pino reads them as it loads, and the lab's
  // agents load from a startup snapshot built by another process (scripts/build-agent.mjs).
  const base = { pid: process.pid, hostname: hostname(), ...(place.netns ? { node: o.node } : {}) };
  const destination = place.logFile
    ? pino.destination({ dest: place.logFile, append: true, mkdir: true, sync: false })
    : undefined;
  const logger = destination
    ? pino({ level: o.logLevel, base }, destination)
    : pino({ level: o.logLevel, base });
  // A few small helper processes start programs for the agent: forking the agent itself costs
  // more the larger its heap grows (bench/README.md). An agent host shares one pool.
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
      hostNs,
      healthPort: flags.healthPort,
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
  } finally {
    await store?.close();
    ownPool?.close();
    destination?.flushSync();
    destination?.end();
  }
}
