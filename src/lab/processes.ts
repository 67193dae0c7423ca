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
export function describeProcess(proc: Pick<LabProcess, "role" | "node">): string {
  if (proc.role === "agent") return `the agent of ${proc.node}`;
  if (proc.role === "router") return "the router's BGP speaker";
  return "the datastore";
}

/** The last `lines` lines of a process's log, indented, for an error message. */
export function logTail(log: string, lines = 8): string {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch {
    return "  (no log)";
  }
  const tail = text.trimEnd().split("\n").slice(-lines);
  return tail.length && tail[0] !== "" ? tail.map((l) => `  ${l}`).join("\n") : "  (empty log)";
}

/**
 * Wait until `cond` holds while `proc` runs. A process that exits first ends the wait at once, and
 * either failure says which process, what was awaited and the end of its log, so a failed
 * `lab up` reads as one clear paragraph instead of a stack trace.
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
      `timed out after ${opts.timeoutMs / 1000} s waiting for ${what}; ${describeProcess(proc)} runs, its log (${proc.log}) ends:\n${logTail(proc.log)}`,
    );
  }
  opts.signal?.throwIfAborted();
  if (exited)
    throw new StrataError(
      "exited",
      `${describeProcess(proc)} exited before ${what}; its log (${proc.log}) ends:\n${logTail(proc.log)}`,
    );
}
