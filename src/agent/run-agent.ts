import type { Logger } from "pino";
import { BackgroundTasks } from "../common/background-tasks.js";
import { currentNetns, type Kernel } from "../kernel/api.js";
import { composePlugins } from "../plugins/compose.js";
import { ClusterAgent, type ClusterAgentOptions } from "./cluster-agent.js";
import { startCniServer } from "./cni-server.js";
import { startHealthServer } from "./health-server.js";

export interface AgentOptions {
  readonly kernel: Kernel;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Cluster mode: lease a subnet and route to the other nodes (omit for a CNI-only agent). */
  readonly cluster?: Omit<ClusterAgentOptions, "kernel" | "logger" | "signal" | "hostNs">;
  /** Local port for /healthz and /metrics (127.0.0.1 of this network namespace). */
  readonly healthPort?: number;
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
  const plugins = composePlugins(opts.kernel, { background });
  const server = await startCniServer({
    plugins,
    onRequest: (type, command, ms, exitCode) =>
      opts.logger.info({ type, command, ms: Math.round(ms * 10) / 10, exitCode }, "cni request"),
  });
  let cluster: ClusterAgent | undefined;
  let running: Promise<void> = Promise.resolve();
  if (opts.cluster) {
    cluster = new ClusterAgent({
      ...opts.cluster,
      kernel: opts.kernel,
      logger: opts.logger,
      signal: opts.signal,
      hostNs: currentNetns,
    });
    await cluster.start();
    running = cluster.run();
  }
  const health = opts.healthPort
    ? await startHealthServer(opts.healthPort, () => cluster?.statusNow())
    : undefined;
  opts.logger.info({ socket: "@strata-cni" }, "agent serving CNI requests");
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await running;
  await cluster?.stop({ releaseLease: false });
  health?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await background.drain();
  opts.logger.info("agent stopped");
}
