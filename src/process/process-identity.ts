import { readFileSync } from "node:fs";

/**
 * What proves a process is one the lab started: its PID, the kernel's start time of that PID
 * (`/proc/PID/stat` field 22, clock ticks since boot) and the argv the lab gave it.
 *
 * Why not a pidfd: `lab up` and `lab down` are different processes, and a pidfd lives only as long
 * as the process holding it: it cannot be written into a state file (and Node has no pidfd_open).
 * A PID that was reused has a different start time (the kernel sets it at fork); the argv check
 * also refuses a state file that names some other program. The two are read right before a signal
 * is sent, so the remaining window is the microseconds between that read and kill(2).
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** `/proc/PID/stat` field 22, as the decimal string the kernel prints. */
  readonly startTime: string;
}

/** A process as /proc shows it now. */
export interface ObservedProcess {
  readonly startTime: string;
  readonly argv: readonly string[];
}

/**
 * Pure: field 22 (starttime) of a `/proc/PID/stat` line. Field 2 is the command name in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the last ')'.
 */
export function statStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ")" come fields 3, 4, ...: field 22 is the 20th of them.
  const rest = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const v = rest[22 - 3];
  return v && /^\d+$/.test(v) ? v : undefined;
}

/** Pure: `/proc/PID/cmdline` (NUL-separated, NUL-terminated) into argv. */
export function cmdlineArgv(cmdline: string): string[] {
  const parts = cmdline.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** Pure: has the process of this stat line ended (a zombie waiting to be reaped, or dead)? */
export function statEnded(stat: string): boolean {
  const state = stat.slice(stat.lastIndexOf(")") + 1).trim()[0];
  return state === "Z" || state === "X";
}

/** The process with this PID as /proc shows it, or undefined when there is none (or it has ended and waits to be reaped). */
export function observeProcess(pid: number): ObservedProcess | undefined {
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (statEnded(stat)) return undefined;
    const startTime = statStartTime(stat);
    const argv = cmdlineArgv(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    // An empty command line: the process is exiting (its memory is gone already; it may sit in
    // state D for a moment), or it is a kernel thread — never a lab process either way.
    return startTime && argv.length > 0 ? { startTime, argv } : undefined;
  } catch {
    return undefined;
  }
}

/** The identity of a process just spawned (read at once, before anything can reuse its PID). */
export function identify(pid: number): ProcessIdentity | undefined {
  const p = observeProcess(pid);
  return p ? { pid, startTime: p.startTime } : undefined;
}

/**
 * Pure: the argv a process shows once it runs. `ip netns exec NS CMD...` and `nsenter --net=PATH
 * CMD...` exec CMD in place (same PID, same start time), so after a moment /proc shows CMD...
 * rather than the `ip` or `nsenter` line.
 */
export function runningArgvForms(argv: readonly string[]): (readonly string[])[] {
  const forms: (readonly string[])[] = [argv];
  if (argv[0] === "ip" && argv[1] === "netns" && argv[2] === "exec" && argv.length > 4)
    forms.push(argv.slice(4));
  if (argv[0] === "nsenter" && argv[1]?.startsWith("--net=") && argv.length > 2) forms.push(argv.slice(2));
  return forms;
}

/** Pure: is the observed process the one recorded (same start time, and one of its argv forms)? */
export function isSameProcess(
  recorded: ProcessIdentity & { readonly argv: readonly string[] },
  observed: ObservedProcess | undefined,
): boolean {
  if (!observed || observed.startTime !== recorded.startTime) return false;
  return runningArgvForms(recorded.argv).some(
    (form) => form.length === observed.argv.length && form.every((a, i) => a === observed.argv[i]),
  );
}

export type EndOutcome = "ended" | "gone" | "not ours";

/**
 * Send `signal` to the recorded process only if the PID still belongs to it. "gone": no such
 * process; "not ours": the PID now belongs to something else (PID reuse, a stale or forged state
 * file), which is left alone.
 */
export function signalIfOurs(
  recorded: ProcessIdentity & { readonly argv: readonly string[] },
  signal: NodeJS.Signals,
): EndOutcome {
  const observed = observeProcess(recorded.pid);
  if (!observed) return "gone";
  if (!isSameProcess(recorded, observed)) return "not ours";
  try {
    process.kill(recorded.pid, signal);
    return "ended";
  } catch {
    return "gone";
  }
}

/** Is the recorded process still running (and still the same process)? */
export function isAlive(recorded: ProcessIdentity & { readonly argv: readonly string[] }): boolean {
  return isSameProcess(recorded, observeProcess(recorded.pid));
}

/**
 * Has the process with this identity ended (no such PID, a zombie, or the PID now has another
 * start time)? Reads only the stat line: unlike isAlive, a process caught in the instant of an
 * exec (its command line briefly empty, then `ip netns exec` turning into its command) still counts
 * as running.
 */
export function hasEnded(identity: ProcessIdentity): boolean {
  try {
    const stat = readFileSync(`/proc/${identity.pid}/stat`, "utf8");
    return statEnded(stat) || statStartTime(stat) !== identity.startTime;
  } catch {
    return true;
  }
}
