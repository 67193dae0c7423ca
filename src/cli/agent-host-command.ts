import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { AgentHost } from "../agent-host/agent-host.js";
import { serveHostControl } from "../agent-host/host-control.js";
import { parseHostSpec } from "../agent-host/host-wire.js";
import { describeError } from "../common/errors.js";
import { spawnProgram } from "../kernel/iproute2/index.js";
import { SpawnPool } from "../process/spawn-pool.js";
import { launchAgent } from "./agent-launch.js";
import { intInRange, UsageError } from "./options.js";
import { spawnHelperPath } from "./paths.js";

/** One JSON line in an agent's own log, as its logger would have written it (pino's shape). */
const logLine = (level: number, msg: string, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ level, time: Date.now(), pid: process.pid, ...extra, msg })}\n`;

/**
 * `strata agent-host`: the node agents of several emulated nodes in one process (the lab's scale
 * mode, src/lab/agent-hosts.ts). Each agent is a whole `strata agent` for its node, started with
 * its own arguments and with its node's namespace on every kernel call, socket and program; the
 * agents share this process's modules and one pool of spawn helpers. None starts by itself: the
 * control socket starts and stops them one at a time. SIGTERM stops them all and exits.
 */
export function registerAgentHostCommand(program: Command) {
  program
    .command("agent-host")
    .description(
      "run the node agents of several nodes in one process, each in its own node's network namespace (what `lab up` runs past 20 nodes); its control socket starts and stops them",
    )
    .requiredOption("--spec <file>", "JSON: {agents: [{node, netns, args, log}]}, the agents it may run")
    .requiredOption("--control <socket>", "its control socket (the directory is made root-only)")
    .option("--spawn-helpers <n>", "helper processes that start programs for every agent of this host", "4")
    .action(async (o: { spec: string; control: string; spawnHelpers: string }) => {
      const helpers = intInRange("--spawn-helpers", o.spawnHelpers, 1, 64);
      let text: string;
      try {
        text = readFileSync(o.spec, "utf8");
      } catch (err) {
        throw new UsageError("--spec", `cannot read ${o.spec}: ${describeError(err)}`);
      }
      const spec = parseHostSpec(text);
      const pool = existsSync(spawnHelperPath)
        ? new SpawnPool(spawnHelperPath, helpers, spawnProgram)
        : undefined;
      const host = new AgentHost(
        spec,
        (a, signal) =>
          launchAgent(a.args, { netns: a.netns, logFile: a.log, ...(pool ? { pool } : {}) }, signal),
        (node, err) => {
          const log = spec.agents.find((a) => a.node === node)?.log;
          const words = err === undefined ? "agent stopped" : `agent failed: ${describeError(err)}`;
          console.error(`${node}: ${words}`);
          // The agent's own log says why it ended, also when it never got as far as its logger.
          if (log && err !== undefined)
            try {
              appendFileSync(log, logLine(50, "agent failed", { err: describeError(err) }));
            } catch {}
        },
      );
      const server = await serveHostControl(o.control, host);
      console.error(
        `agent host: ${spec.agents.length} agents (${spec.agents.map((a) => a.node).join(", ")}), control ${o.control}`,
      );
      await new Promise<void>((resolve) => {
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
      });
      server.close();
      await host.stopAll();
      pool?.close();
      await rm(o.control, { force: true });
      console.error("agent host stopped");
    });
}
