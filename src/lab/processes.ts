import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { eventually } from "../common/eventually.js";
import { identify, isAlive, signalIfOurs } from "./process-identity.js";
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
  const running = child.pid ? identify(child.pid) : undefined;
  return { role, ...(node ? { node } : {}), argv: [...argv], log, ...(running ? { running } : {}) };
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
    await eventually(() => !isAlive(recorded), `${describeProcess(proc)} to end`, {
      timeoutMs: opts.kill ? 5000 : (opts.graceMs ?? 5000),
      intervalMs: 50,
    });
  } catch {
    signalIfOurs(recorded, "SIGKILL");
    await eventually(() => !isAlive(recorded), `${describeProcess(proc)} to end after SIGKILL`, {
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
