import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { StrataError } from "../common/errors.js";
import { eventually } from "../common/eventually.js";
import { hasEnded, identify, signalIfOurs } from "../process/process-identity.js";
import type { LabProcess, LabProcessRole } from "./state.js";

/**
 * Start a long-running lab process detached from this command (its own session, so a Ctrl-C in the
 * terminal does not reach it), output appended to `log`, and return its record — identity read at
 * once, so the caller can write it to the state file before anything else happens.
 */
export function spawnLabProcess(
  role: LabProcessRole,
  argv: readonly string[],
  log: string,
  node?: string,
): LabProcess {
  const out = openSync(log, "a");
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", out, out] });
  child.unref();
  const running = child.pid ? identifyJustSpawned(child.pid) : undefined;
  return { role, ...(node ? { node } : {}), argv: [...argv], log, ...(running ? { running } : {}) };
}

/**
 * The identity of a child this moment spawned. While it execs, /proc shows an empty command line
 * for an instant (the old image is gone, the new one not yet there): look again for up to 200 ms
 * rather than record a process that cannot be told apart later.
 */
function identifyJustSpawned(pid: number) {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100; i++) {
    const id = identify(pid);
    if (id) return id;
    Atomics.wait(pause, 0, 0, 2);
  }
  return undefined;
}

export type StopOutcome =
  /** It was running and has ended. */
  | "stopped"
  /** Nothing was running (never started, already stopped, or died). */
  | "not running"
  /** The recorded PID now belongs to another process: left alone. */
  | "not ours";

/**
 * Stop a recorded process, only if it is still provably the lab's. SIGTERM lets it shut down as
 * it would on a node (`kill`: SIGKILL at once, a crash); one that has not ended after `graceMs`
 * is killed. Returns once the process is gone.
 */
export async function stopLabProcess(
  proc: LabProcess,
  opts: { kill?: boolean; graceMs?: number } = {},
): Promise<StopOutcome> {
  const running = proc.running;
  if (!running) return "not running";
  // A hosted agent has no process of its own: its host's record stops it (control.ts stops one alone).
  if (proc.role === "agent" && proc.host) return "not running";
  const recorded = { ...running, argv: proc.argv };
  const first = signalIfOurs(recorded, opts.kill ? "SIGKILL" : "SIGTERM");
  if (first === "gone") return "not running";
  if (first === "not ours") return "not ours";
  try {
    await eventually(() => hasEnded(running), `${describeProcess(proc)} to end`, {
      timeoutMs: opts.kill ? 5000 : (opts.graceMs ?? 5000),
      intervalMs: 50,
    });
  } catch {
    signalIfOurs(recorded, "SIGKILL");
    await eventually(() => hasEnded(running), `${describeProcess(proc)} to end after SIGKILL`, {
      timeoutMs: 5000,
      intervalMs: 50,
    });
  }
  return "stopped";
}

/** "the agent of n1", "the datastore", "the router's BGP speaker". */
export function describeProcess(proc: Pick<LabProcess, "role" | "node" | "host">): string {
  if (proc.role === "agent")
    return proc.host ? `the agent of ${proc.node} (in agent host ${proc.host})` : `the agent of ${proc.node}`;
  if (proc.role === "agent-host") return `agent host ${proc.host}`;
  if (proc.role === "router") return "the router's BGP speaker";
  return "the datastore";
}

/**
 * Pure: the last thing a log says, as words for one line: a JSON (pino) line gives its message and
 * error, any other line itself (`strata: …` from an agent that exited); cut at 200 characters.
 */
export function lastLogWords(text: string): string {
  const last = text.trimEnd().split("\n").at(-1)?.trim() ?? "";
  if (last === "") return "its log is empty";
  let words = last;
  try {
    const entry = JSON.parse(last) as { msg?: unknown; err?: unknown };
    if (typeof entry.msg === "string")
      words = typeof entry.err === "string" ? `${entry.msg}: ${entry.err}` : entry.msg;
  } catch {
    // not JSON: the line as written
  }
  return `its log ends "${words.length > 200 ? `${words.slice(0, 199)}…` : words}"`;
}

const lastLogWordsOf = (log: string): string => {
  try {
    return lastLogWords(readFileSync(log, "utf8"));
  } catch {
    return "it wrote no log";
  }
};

/**
 * Wait until `cond` holds while `proc` runs. A process that exits first ends the wait at once, and
 * either failure is one line: which process, what was awaited, and the last thing its log says
 * (the log itself goes with the lab when `up` removes what it built).
 */
export async function waitWhileRunning(
  proc: LabProcess,
  cond: () => Promise<boolean>,
  what: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const running = proc.running;
  let exited = false;
  try {
    await eventually(
      async () => {
        if (opts.signal?.aborted) return true;
        if (await cond()) return true;
        exited = !running || hasEnded(running);
        return exited;
      },
      what,
      { timeoutMs: opts.timeoutMs },
    );
  } catch {
    throw new StrataError(
      "timeout",
      `timed out after ${opts.timeoutMs / 1000} s waiting for ${what}: ${describeProcess(proc)} runs and ${lastLogWordsOf(proc.log)}`,
    );
  }
  opts.signal?.throwIfAborted();
  if (exited)
    throw new StrataError(
      "exited",
      `${describeProcess(proc)} exited before ${what}; ${lastLogWordsOf(proc.log)}`,
    );
}
