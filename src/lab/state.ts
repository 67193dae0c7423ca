import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EtcdPki } from "../datastore/etcd/pki.js";
import type { ProcessIdentity } from "../process/process-identity.js";
import type { LabSpec } from "./topology.js";

/** Everything the lab writes lives here (removed by `lab down`). */
export const labDir = "/run/strata-lab";
export const labStateFile = join(labDir, "state.json");

export type LabProcessRole = "datastore" | "router" | "agent" | "agent-host";

/**
 * A long-running process of the lab. `argv` is how it was started (and is started again);
 * `running` is what proves a live process is this one (absent while it is stopped).
 */
export interface LabProcess {
  readonly role: LabProcessRole;
  /** The node an agent serves. */
  readonly node?: string;
  /**
   * An agent host's id (role agent-host), or, on an agent, the host that runs it: such an agent has
   * no process of its own (`running` is its host's while it runs there; agent-hosts.ts).
   */
  readonly host?: string;
  readonly argv: readonly string[];
  readonly log: string;
  readonly running?: ProcessIdentity;
}

export interface LabPodState {
  readonly name: string;
  readonly ns: string;
  readonly node: string;
  readonly ip: string;
  /** `--ip-family dual`: the pod's IPv6 address. */
  readonly ip6?: string;
  /** `--attach`: the pod's address on each secondary network. */
  readonly secondary?: readonly { readonly network: string; readonly ifName: string; readonly ip: string }[];
}

export interface LabNodeState {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** Empty until the agent has leased one. */
  readonly subnet: string;
  /** `--ip-family dual`: the IPv6 pod subnet the agent leased. */
  readonly subnet6?: string;
  readonly podMtu: number;
  /** The agent's PID when the state was written (the `processes` entry is what proves it). */
  readonly pid: number;
}

export interface LabState {
  readonly spec: LabSpec;
  /** false while `lab up` is still building (the file is rewritten at every process start). */
  readonly complete: boolean;
  readonly nodes: readonly LabNodeState[];
  readonly pods: readonly LabPodState[];
  /** Every process the lab started, recorded the moment it was spawned. */
  readonly processes: readonly LabProcess[];
  /** The agent flags that reach the datastore (--datastore and, for etcd, the TLS files). */
  readonly agentDatastoreArgs: readonly string[];
  /** etcd mode: the lab's CA, etcd's and the agents' certificates (root-only, in the lab dir). */
  readonly etcdPki?: EtcdPki;
  readonly etcdEndpoint?: string;
}

/**
 * Replace the state file atomically (write a temporary file, then rename): a reader, or a `lab
 * down` after a crash, sees the old state or the new one, never half of one. Synchronous on
 * purpose: a process is recorded before a signal handler can run.
 */
export function writeLabState(state: LabState): void {
  const tmp = `${labStateFile}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, labStateFile);
}

/** The state file, or undefined when there is none (no lab, or one that never got that far). */
export function readLabStateSync(): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(labStateFile, "utf8");
  } catch {
    return undefined;
  }
  const s = JSON.parse(text) as Partial<LabState>;
  // A state file of an older Strata (no process records) still names nodes and pods.
  return {
    complete: true,
    nodes: [],
    pods: [],
    processes: [],
    agentDatastoreArgs: [],
    ...s,
  } as LabState;
}

export async function readLabState(): Promise<LabState | undefined> {
  try {
    return readLabStateSync();
  } catch {
    return undefined;
  }
}

/** The recorded process of a role (and node, for agents). */
export function labProcess(state: LabState, role: LabProcessRole, node?: string): LabProcess | undefined {
  return state.processes.find((p) => p.role === role && (node === undefined || p.node === node));
}

/** Pure: the state with one process's record replaced (or added), node PIDs kept in step. */
export function withProcess(state: LabState, proc: LabProcess): LabState {
  const same = (p: LabProcess) => p.role === proc.role && p.node === proc.node && p.host === proc.host;
  const processes = state.processes.some(same)
    ? state.processes.map((p) => (same(p) ? proc : p))
    : [...state.processes, proc];
  const nodes =
    proc.role === "agent"
      ? state.nodes.map((n) => (n.name === proc.node ? { ...n, pid: proc.running?.pid ?? 0 } : n))
      : state.nodes;
  return { ...state, processes, nodes };
}
