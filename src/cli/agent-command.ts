import type { Command } from "commander";
import { sendControl } from "../agent/control-socket.js";
import type { BackendDefinition, BackendFlagValues } from "../backends/definition.js";
import { backendRegistry } from "../backends/registry.js";
import { addAgentFlags } from "./agent-flags.js";
import { runParsedAgent } from "./agent-launch.js";
import type { AgentCliOptions } from "./agent-wiring.js";

export { addAgentFlags } from "./agent-flags.js";

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
    // The agent of this process's own namespace, logging to stdout, stopped by SIGINT/SIGTERM
    // (src/cli/agent-launch.ts runs it; an agent host calls launchAgent there directly).
    const ac = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());
    await runParsedAgent(o, {}, ac.signal, registry);
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
