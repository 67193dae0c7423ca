import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { Command } from "commander";
import { type Logger, pino } from "pino";
import { defaultCniSocketDir } from "../agent/cni-socket.js";
import { sendControl } from "../agent/control-socket.js";
import { runAgent } from "../agent/run-agent.js";
import type { BackendDefinition, BackendFlagValues } from "../backends/definition.js";
import { backendRegistry, defaultBackend } from "../backends/registry.js";
import { BgpConfigStore } from "../cluster/bgp-config.js";
import type { Kernel } from "../kernel/api.js";
import { builtTunnelObjectPath, createBpfTunnelDatapath } from "../kernel/bpf-tunnel/api.js";
import { createIproute2Kernel, spawnProgram } from "../kernel/iproute2/index.js";
import { rtnetlinkAddonPath, withRtnetlink } from "../kernel/rtnetlink/driver.js";
import { createSleeveDatapath } from "../kernel/sleeve/datapath.js";
import { builtSleeveHelperPath } from "../kernel/sleeve/helper-path.js";
import { SpawnPool } from "../process/spawn-pool.js";
import { type AgentCliOptions, checkAgentFlags, createBackend, openDatastore } from "./agent-wiring.js";
import { addBackendFlags } from "./backend-flags.js";
import { spawnHelperPath } from "./paths.js";

/**
 * The agent's flags on `cmd`: its own, then `--backend` and every backend's flags from
 * `registry` (see backend-flags.ts). Separate from the action so a test can build and parse them.
 */
export function addAgentFlags(cmd: Command, registry: readonly BackendDefinition[]): Command {
  cmd
    .option("--log-level <level>", "pino log level", "info")
    .option("--node <name>", "this node's name (enables cluster mode)")
    .option(
      "--cluster-cidr <cidrs>",
      "pod network of the whole cluster: one IPv4 CIDR, or IPv4,IPv6 for dual stack (10.244.0.0/16,fd00:10:244::/56)",
      "10.244.0.0/16",
    )
    .option("--subnet-len <n>", "prefix length of each node's pod subnet", "24")
    .option("--subnet-len6 <n>", "dual stack: prefix length of each node's IPv6 pod subnet", "64")
    .option("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
    .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
    .option("--etcd-cert <file>", "etcd over https: this agent's client certificate (PEM)")
    .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
    .option("--underlay-dev <dev>", "interface carrying node-to-node traffic", "eth0")
    .option("--state-dir <dir>", "where to write subnet.json and the CNI conflist")
    .option(
      "--lease-ttl <s>",
      "subnet lease TTL (ownership), seconds; renewed every min(TTL/3, 1 h); a node's routes stay on every other node this long after its agent stops",
      "86400",
    )
    .option(
      "--heartbeat-ttl <s>",
      "liveness heartbeat TTL, seconds: peers report this node not alive this long after its agent stops (routes stay)",
      "20",
    )
    .option("--resync-interval <s>", "repair pass: re-add missing routes this often, seconds", "10")
    .option(
      "--full-resync-interval <s>",
      "repair pass: diff everything (devices, addresses, neighbours, FDB, routes) against the kernel this often at most, seconds; the passes in between read routes alone",
      "60",
    )
    .option(
      "--route-change-window <ms>",
      "learned-route changes (BGP UPDATEs) that arrive within this many ms of a pass go to the kernel together at the window's end; the first change after a quiet spell goes at once; 0: a pass per change",
      "250",
    )
    .option(
      "--datastore-timeout <s>",
      "/healthz is not ok once the datastore has been unreachable this long, seconds",
      "60",
    )
    .option("--no-masquerade", "do not masquerade traffic leaving the cluster CIDR")
    .option(
      "--pod-attachment <auto|bridge|routed>",
      "how pods attach: on the node bridge cni0 (Flannel), routed veths with a /32 route each (Calico), or auto (the backend's choice: routed for ipip/gre, bridge for the rest)",
      "auto",
    )
    .option("--health-port <port>", "local port for /healthz and /metrics", "9947")
    .option(
      "--cni-bin-dir <dirs>",
      "the agent's CNI plugin directories (colon-separated); delegated plugins run only from here, never from a request's CNI_PATH",
      "/opt/cni/bin",
    )
    .option(
      "--cni-socket-dir <dir>",
      "root-only directory of the CNI socket (the shim is built with the default)",
      defaultCniSocketDir,
    )
    .option(
      "--cni-max-requests <n>",
      "CNI requests in flight at once; more are answered code 11 (try again later)",
      "64",
    )
    .option("--cni-read-timeout <ms>", "time a caller has to send its whole CNI request", "10000")
    .option(
      "--spawn-helpers <n>",
      "helper processes that start programs for the agent (default: $STRATA_SPAWN_HELPERS or 8); the lab runs 2 per node",
    )
    .option(
      "--kernel-driver <driver>",
      "rtnetlink: routes, neighbours and FDB entries written (and routes read) from inside the agent, the rest through iproute2; iproute2: every kernel call through ip/bridge processes (default: $STRATA_KERNEL_DRIVER or rtnetlink; rtnetlink needs the addon `npm run build` makes, else iproute2 is used and the log says so)",
    );
  return addBackendFlags(cmd, registry, defaultBackend);
}

/** `strata agent`: the node daemon, with the backends of the registry. */
export function registerAgentCommand(
  program: Command,
  registry: readonly BackendDefinition[] = backendRegistry,
) {
  const agent = program
    .command("agent")
    .description(
      "run the node agent: serves CNI requests forwarded by the plugin shim in this network namespace; with --node, also leases a pod subnet and routes to the other nodes",
    );
  addAgentFlags(agent, registry).action(async (o: AgentCliOptions & BackendFlagValues) => {
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
    // The cluster's BGP topology in the datastore (`strata bgp route-reflectors`), followed live
    // once the agent runs (the datastore is opened after the backend's flags are checked).
    const bgpConfig = (signal: AbortSignal) => {
      if (!store) throw new Error("no datastore: the agent runs without --node");
      return new BgpConfigStore(store).watch(signal);
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
    // pid and hostname named here, not left to pino: pino reads them as it loads, and the lab's
    // agents load from a startup snapshot built by another process (scripts/build-agent.mjs).
    const logger = pino({ level: o.logLevel, base: { pid: process.pid, hostname: hostname() } });
    const ac = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());
    // A few small helper processes start programs for the agent: forking the agent itself costs
    // more the larger its heap grows (bench/README.md).
    const helpers = flags.spawnHelpers;
    const pool = existsSync(spawnHelperPath)
      ? new SpawnPool(spawnHelperPath, helpers, spawnProgram)
      : undefined;
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
        signal: ac.signal,
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
      pool?.close();
    }
  });
  agent
    .command("rotate-key")
    .description(
      "tell the running agent to make a new key pair, use it and publish it with its lease (wireguard backend); peers follow on their next pass",
    )
    .requiredOption("--state-dir <dir>", "the running agent's --state-dir (its control socket is there)")
    .action(async (o: { stateDir: string }) => {
      const r = (await sendControl(o.stateDir, "rotate-key")) as { publicKey: string; previous: string };
      console.log(`rotated: public key ${r.publicKey} (was ${r.previous})`);
    });
  return agent;
}
