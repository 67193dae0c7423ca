import { existsSync } from "node:fs";
import { Command } from "commander";
import { pino } from "pino";
import { runAgent } from "../agent/run-agent.js";
import { installCniPlugins } from "../cni/install.js";
import { createIproute2Kernel, spawnProgram } from "../kernel/iproute2/index.js";
import { SpawnPool } from "../kernel/spawn-pool.js";
import { pluginTypes } from "../plugins/catalog.js";
import { runDemo } from "./demo.js";
import { pluginEntryDir, shimPath, spawnHelperPath } from "./paths.js";

const program = new Command();
program
  .name("strata")
  .description("Strata: Kubernetes pod networking (CNI plugins, node agent, lab of emulated nodes)")
  .showHelpAfterError();

program
  .command("install-cni")
  .description("put the CNI plugin executables (one per plugin type, named by type) into a directory")
  .requiredOption("--dir <dir>", "target directory, e.g. /opt/cni/bin")
  .action(async (o: { dir: string }) => {
    const written = await installCniPlugins({
      dir: o.dir,
      types: pluginTypes,
      shimPath,
      nodePath: process.execPath,
      entryDir: pluginEntryDir,
    });
    for (const f of written) console.log(f);
  });

program
  .command("agent")
  .description(
    "run the node agent: serves CNI requests forwarded by the plugin shim in this network namespace",
  )
  .option("--log-level <level>", "pino log level", "info")
  .action(async (o: { logLevel: string }) => {
    const logger = pino({ level: o.logLevel });
    const ac = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());
    // A few small helper processes start programs for the agent: forking the agent itself costs
    // more the larger its heap grows (bench/README.md).
    const helpers = Number(process.env.STRATA_SPAWN_HELPERS ?? 8);
    const pool = existsSync(spawnHelperPath)
      ? new SpawnPool(spawnHelperPath, helpers, spawnProgram)
      : undefined;
    try {
      await runAgent({ kernel: createIproute2Kernel({ runner: pool?.run }), logger, signal: ac.signal });
    } finally {
      pool?.close();
    }
  });

program
  .command("demo")
  .description("bring up pods on one emulated node (bridge and routed modes), show them talking, tear down")
  .option("--pods <n>", "pods per mode", "3")
  .option("--keep", "leave the namespaces up (remove later with `strata demo --down`)")
  .option("--down", "only remove what an earlier demo left")
  .action(async (o: { pods: string; keep?: boolean; down?: boolean }) => {
    const ok = await runDemo({ pods: Number(o.pods), keep: Boolean(o.keep), downOnly: Boolean(o.down) });
    process.exitCode = ok ? 0 : 1;
  });

await program.parseAsync(process.argv);
