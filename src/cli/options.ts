import { StrataError } from "../common/errors.js";

/** A flag with a value the command cannot use: the CLI prints one line and exits 2. */
export class UsageError extends StrataError {
  constructor(flag: string, what: string) {
    super("cli.usage", `${flag}: ${what}`);
  }
}

/** A command that cannot go on (e.g. no lab is up): one line, exit 1. */
export class CommandError extends StrataError {
  constructor(message: string) {
    super("cli.command", message);
  }
}

/** Pure: a flag's value as a positive integer, or a UsageError that names the flag. */
export function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(flag, `"${value}" is not a positive whole number`);
  return Number(value);
}
