import ipaddr from "ipaddr.js";
import { StrataError } from "../common/errors.js";

/** A flag with a value the command cannot use: the CLI prints one line and exits 2. */
export class UsageError extends StrataError {
  /** `flag` undefined: `what` already names the flag (an error from below the CLI, passed on). */
  constructor(flag: string | undefined, what: string, options?: { cause?: unknown }) {
    super("cli.usage", flag === undefined ? what : `${flag}: ${what}`, options);
  }
}

/** A command that cannot go on (e.g. no lab is up): one line, exit 1. */
export class CommandError extends StrataError {
  constructor(message: string) {
    super("cli.command", message);
  }
}

/**
 * Run a step that checks flags deeper down (a datastore URL, a peer spec, a password file): any
 * StrataError it throws is a problem with a flag, so it becomes a UsageError (exit 2).
 */
export function flagCheck<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StrataError && !(err instanceof UsageError))
      throw new UsageError(undefined, err.message, { cause: err });
    throw err;
  }
}

/** Pure: a flag's value as a positive integer, or a UsageError that names the flag. */
/** One of `allowed`, or a UsageError naming the flag and the choices. */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(flag, `"${value}" is not one of ${allowed.join(", ")}`);
  return value as T;
}

export function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(flag, `"${value}" is not a positive whole number`);
  return Number(value);
}

/** Pure: a whole number from `min` to `max`, or a UsageError naming the flag and the range. */
export function intInRange(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(flag, `"${value}" is not a whole number from ${min} to ${max}`);
  return Number(value);
}

/** Pure: a TCP/UDP port (1–65535; `allowZero` for "turned off"). */
export function portNumber(flag: string, value: string, allowZero = false): number {
  return intInRange(flag, value, allowZero ? 0 : 1, 65535);
}

/** Pure: a dotted-quad IPv4 address (router ids, cluster ids, next hops). */
export function ipv4Address(flag: string, value: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(value))
    throw new UsageError(flag, `"${value}" is not an IPv4 address (a.b.c.d)`);
  return value;
}

/** Pure: an IPv4 (dotted quad) or IPv6 address, the IPv6 one as the kernel prints it (RFC 5952). */
export function ipAddress(flag: string, value: string): string {
  if (ipaddr.IPv4.isValidFourPartDecimal(value)) return value;
  if (ipaddr.IPv6.isValid(value)) return ipaddr.IPv6.parse(value).toString();
  throw new UsageError(flag, `"${value}" is not an IPv4 or IPv6 address`);
}

/** Pure: an IPv4 or IPv6 prefix ADDRESS/LEN. */
export function cidrValue(flag: string, value: string): string {
  try {
    ipaddr.parseCIDR(value);
    return value;
  } catch {
    throw new UsageError(flag, `"${value}" is not a prefix ADDRESS/LEN (e.g. 10.244.0.0/16)`);
  }
}

/** Node's error for a failed system call (ENOENT, EACCES, ENOTDIR, ...). */
const isSystemError = (err: unknown): err is NodeJS.ErrnoException =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" && "syscall" in err;

/** A failed system call on a named path (mkdir, open, bind of a socket file, ...). */
export const isPathError = (err: unknown): err is NodeJS.ErrnoException & { path: string } =>
  isSystemError(err) && typeof err.path === "string";

/**
 * Run a step that uses the path a flag names (a directory to write, a socket to bind): a system
 * error there is the flag's problem, a UsageError naming flag, path and errno (exit 2).
 */
export async function pathFlag<T>(flag: string, path: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isSystemError(err))
      throw new UsageError(flag, `${path}: ${err.code} on ${err.syscall} (use a directory root can write)`, {
        cause: err,
      });
    throw err;
  }
}
