import { startupSnapshot } from "node:v8";
import { Command } from "commander";
import { registerAgentCommand } from "./agent-command.js";
import { runProgram } from "./run-program.js";

/**
 * `strata agent` without the rest of the CLI: the entry the lab's agents run, bundled into one file
 * (scripts/build-agent.mjs) and, where Node can, into a V8 startup snapshot of that file with
 * every module already evaluated. Building the snapshot runs this file up to here: the command line
 * is parsed (and the agent started) only once the snapshot is deserialized in the agent's process.
 */
const program = new Command();
program.name("strata").showHelpAfterError().enablePositionalOptions();
program.exitOverride();
registerAgentCommand(program);
// Started from the snapshot, process.argv is [node, ...arguments]: no script.
if (startupSnapshot?.isBuildingSnapshot())
  startupSnapshot.setDeserializeMainFunction(() => runProgram(program, process.argv.slice(1)));
else void runProgram(program);
