import { type Command, CommanderError } from "commander";
import { StrataError } from "../common/errors.js";
import { isPathError, UsageError } from "./options.js";

/**
 * Parse the command line and run it; errors become one line and an exit code, as every entry does.
 * `userArgs`: the arguments after the program (a process started from a V8 startup snapshot has no
 * script in its argv); absent, process.argv.
 */
export async function runProgram(program: Command, userArgs?: readonly string[]): Promise<void> {
  try {
    if (userArgs) await program.parseAsync([...userArgs], { from: "user" });
    else await program.parseAsync(process.argv);
  } catch (err) {
    // Commander has printed its message (and the help): exit 2 for a usage error, 0 for --help.
    if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
    // A Strata error is the user's to fix: one line, no stack trace.
    else if (err instanceof StrataError) {
      console.error(`strata: ${err.message}`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    }
    // A system call that failed on a path (a directory that is a file, no permission): the path is
    // the user's to fix too. STRATA_DEBUG=1 shows the stack.
    else if (isPathError(err) && !process.env.STRATA_DEBUG) {
      console.error(`strata: ${err.path}: ${err.code} on ${err.syscall}`);
      process.exitCode = 1;
    } else throw err;
  }
}
