import type { Logger } from "pino";
import { BackgroundTasks } from "../common/background-tasks.js";
import type { Kernel } from "../kernel/api.js";
import { composePlugins } from "../plugins/compose.js";
import { startCniServer } from "./cni-server.js";

export interface AgentOptions {
  readonly kernel: Kernel;
  readonly logger: Logger;
  readonly signal: AbortSignal;
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
  opts.logger.info({ socket: "@strata-cni" }, "agent serving CNI requests");
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await background.drain();
  opts.logger.info("agent stopped");
}
