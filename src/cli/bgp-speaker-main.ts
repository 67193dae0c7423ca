import { Command } from "commander";
import { registerBgpSpeakerCommand } from "./bgp-speaker-command.js";
import { runProgram } from "./run-program.js";

/**
 * `strata bgp-speaker` without the rest of the CLI (bin/strata.js comes here for it): a route
 * reflector or a top-of-rack speaker is a long-lived process whose memory is counted, and the full
 * CLI's modules (datastore clients, lab, agent) cost it ~28 MiB of RSS it never uses.
 */
const program = new Command();
program.name("strata").showHelpAfterError().enablePositionalOptions();
program.exitOverride();
registerBgpSpeakerCommand(program);
await runProgram(program);
