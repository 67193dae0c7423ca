import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { askHost } from "../agent-host/host-control.js";
import { StrataError } from "../common/errors.js";
import { eventually } from "../common/eventually.js";
import type { Kernel } from "../kernel/api.js";
import { hasEnded, isAlive } from "../process/process-identity.js";
import { agentHealth } from "./agent-health.js";
import { controlOf, hostedAgentStatus, hostRecordOf } from "./agent-hosts.js";
import { describeProcess, type StopOutcome, spawnLabProcess, stopLabProcess } from "./processes.js";
import {
  type LabProcess,
  type LabProcessRole,
  type LabState,
  labProcess,
  readLabStateSync,
  withProcess,
  writeLabState,
} from "./state.js";

/** A lab control request that cannot be carried out (no such process, already running, ...). */
export class LabControlError extends StrataError {
  constructor(message: string) {
    super("lab.control", message);
  }
}

/** Does a UNIX socket accept a connection (a stale socket file does not)? */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Has etcd said it serves, in the part of its log written after `offset`? */
export async function etcdReady(log: string, offset: number): Promise<boolean> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text.slice(offset).includes("ready to serve client requests");
}

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** Pure: the value of `--flag` in a recorded argv. */
export const flagValue = (argv: readonly string[], flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};

/**
 * When a started process serves: an agent answers on its health port, the embedded store accepts
 * on its socket, etcd says so in its log (after what an earlier run wrote there).
 */
function readiness(kernel: Kernel | undefined, state: LabState, proc: LabProcess): () => Promise<boolean> {
  if (proc.role === "agent") {
    const ns = state.nodes.find((n) => n.name === proc.node)?.ns;
    return async () =>
      ns !== undefined && kernel !== undefined && (await agentHealth(kernel, ns)).httpStatus !== undefined;
  }
  if (proc.role === "datastore" && state.spec.datastore === "etcd") {
    const offset = sizeOf(proc.log);
    return () => etcdReady(proc.log, offset);
  }
  const socket = flagValue(proc.argv, "--socket");
  return async () => socket === undefined || (await socketAccepts(socket));
}

function recorded(state: LabState, role: LabProcessRole, node?: string): LabProcess {
  const proc = labProcess(state, role, node);
  if (!proc) throw new LabControlError(`the lab has no ${role}${node ? ` on ${node}` : ""}`);
  return proc;
}

/**
 * Start a recorded process again with the argv it was first started with, record it at once and
 * wait until it serves. Refused when it is still running.
 */
export async function startRecordedProcess(
  state: LabState,
  role: LabProcessRole,
  node?: string,
  kernel?: Kernel,
): Promise<LabProcess> {
  const old = recorded(state, role, node);
  if (old.host) return startHostedAgent(state, old, kernel);
  if (old.running && isAlive({ ...old.running, argv: old.argv }))
    throw new LabControlError(
      `${describeProcess(old)} is already running (pid ${old.running.pid}); stop it first or use restart`,
    );
  const ready = readiness(kernel, state, old);
  const proc = spawnLabProcess(role, old.argv, old.log, node);
  writeLabState(withProcess(state, proc));
  await eventually(ready, `${describeProcess(proc)} to serve (see ${proc.log})`, { timeoutMs: 20_000 });
  // hasEnded, not isAlive: a process still inside `ip netns exec` (which execs into its command)
  // shows an empty command line for an instant and would be taken for one that exited.
  if (!proc.running || hasEnded(proc.running))
    throw new LabControlError(`${describeProcess(proc)} exited at once (see ${proc.log})`);
  return proc;
}

/** The live record of the agent host that runs a hosted agent. */
function hostOf(state: LabState, agent: LabProcess): LabProcess {
  const host = hostRecordOf(state, agent.host);
  if (!host?.running || !isAlive({ ...host.running, argv: host.argv }))
    throw new LabControlError(
      `${describeProcess(agent)}: agent host ${agent.host} is not running (lab down, then lab up again)`,
    );
  return host;
}

/** Start a hosted agent again inside its host, record it and wait until it serves. */
async function startHostedAgent(state: LabState, old: LabProcess, kernel?: Kernel): Promise<LabProcess> {
  const host = hostOf(state, old);
  const mine = (await askHost(controlOf(host), { op: "status" })).agents.find((a) => a.node === old.node);
  if (mine?.phase === "running" || mine?.phase === "stopping")
    throw new LabControlError(
      `${describeProcess(old)} is already ${mine.phase}; stop it first or use restart`,
    );
  await askHost(controlOf(host), { op: "start", node: old.node ?? "" });
  const proc: LabProcess = { ...old, ...(host.running ? { running: host.running } : {}) };
  writeLabState(withProcess(readLabStateSync() ?? state, proc));
  const ready = readiness(kernel, state, proc);
  // An agent that fails in its host ends the wait at once, with its host's words (eventually()
  // would take a thrown error for "not yet").
  let failed: string | undefined;
  await eventually(
    async () => {
      const st = await hostedAgentStatus(host, old.node ?? "");
      if (st?.phase === "failed") failed = st.error ?? "failed";
      return failed !== undefined || (await ready());
    },
    `${describeProcess(proc)} to serve (see ${proc.log})`,
    { timeoutMs: 20_000 },
  );
  if (failed !== undefined)
    throw new LabControlError(`${describeProcess(proc)} failed: ${failed} (see ${proc.log})`);
  return proc;
}

/** Stop a recorded process (SIGTERM, or SIGKILL with `kill`) and record that it is stopped. */
export async function stopRecordedProcess(
  state: LabState,
  role: LabProcessRole,
  node: string | undefined,
  opts: { kill?: boolean } = {},
): Promise<StopOutcome> {
  const proc = recorded(state, role, node);
  let outcome: StopOutcome;
  if (proc.host && role === "agent") {
    // One agent of a shared process cannot crash alone: SIGKILL would end every agent of its host.
    if (opts.kill)
      throw new LabControlError(
        `${describeProcess(proc)} shares its process with other nodes' agents, so --kill would end them all: stop it without --kill, or bring the lab up with --agents-per-process 1 to crash one agent`,
      );
    const host = hostOf(state, proc);
    const before = (await askHost(controlOf(host), { op: "status" })).agents.find((a) => a.node === node);
    await askHost(controlOf(host), { op: "stop", node: node ?? "" });
    outcome = before?.phase === "running" || before?.phase === "stopping" ? "stopped" : "not running";
  } else outcome = await stopLabProcess(proc, opts);
  const { running: _, ...stopped } = proc;
  // Re-read: the state may have changed while the process was shutting down.
  writeLabState(withProcess(readLabStateSync() ?? state, stopped));
  return outcome;
}
