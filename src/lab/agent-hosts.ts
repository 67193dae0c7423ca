import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { askHost } from "../agent-host/host-control.js";
import type { HostedAgentStatus, HostSpec } from "../agent-host/host-wire.js";
import type { BackendDefinition } from "../backends/definition.js";
import { backendRegistry } from "../backends/registry.js";
import { StrataError } from "../common/errors.js";
import { type LabProcess, type LabState, labDir } from "./state.js";
import type { LabModel, LabSpec } from "./topology.js";

/**
 * Several node agents in one process (`strata agent-host`), for labs past a handful of nodes. Each
 * agent is still a whole `strata agent` for its node (its flags, its datastore connection, its
 * kernel work, sockets and programs in its node's namespace); what the nodes of one host share is
 * the Node process: its start (~0.4 CPU-s), its loaded modules (~15–20 MiB) and its JIT. Issue 16:
 * 200 agent processes cost more CPU to start than two cores give in a minute.
 */

/** Models whose agents run hosted: their backends say so (the rest need a process each: a helper daemon, BPF pins). */
export const hostableModels: readonly LabModel[] = (backendRegistry as readonly BackendDefinition[])
  .filter((d) => d.hostable)
  .map((d) => d.name as LabModel);

/** Up to this many nodes each agent has its own process unless asked (crash tests kill one alone). */
export const ownProcessUpTo = 20;
/** Agents in one host, at most, by default. */
export const agentsPerHostCap = 100;

/** Pure: why this lab's agents cannot share processes, or undefined when they can. */
export function hostingRefusal(spec: Pick<LabSpec, "model" | "datastore" | "attach">): string | undefined {
  if (!hostableModels.includes(spec.model))
    return `the ${spec.model} model's agents need a process each (hosted: ${hostableModels.join(", ")})`;
  if (spec.datastore !== "embedded")
    return "etcd listens on the underlay, which an agent host (in the machine's own namespace) cannot reach: use --datastore embedded";
  if (spec.attach?.length)
    return "--attach runs delegate plugins from the agent's own namespace: secondary networks need a process per agent";
  return undefined;
}

/** Descriptors an agent holds besides BGP sessions: health, CNI and BGP listeners, log, datastore, netlink. */
const descriptorsPerAgent = 16;
/** Descriptors a host holds for itself: its control socket, spawn helpers' pipes, loaded files. */
const descriptorsPerHost = 256;

export type DescriptorSpec = Pick<LabSpec, "model" | "nodes" | "underlay" | "routeReflectors">;

/**
 * Pure: the most agents one process can hold within `openFiles` descriptors (its soft
 * RLIMIT_NOFILE; undefined: unlimited). A BGP session is a socket: in a full mesh each agent holds
 * one per other node, a quarter more while connections collide as they open; a reflector holds one
 * per node, counted once per host (round-robin spreads the reflectors over the hosts). The 200-node
 * mesh in 2 hosts of 100 needed 19,900 sockets each against this machine's 20,000: the last
 * sessions failed to open (EMFILE) and `up` timed out waiting for their routes.
 */
export function maxAgentsForDescriptors(spec: DescriptorSpec, openFiles: number | undefined): number {
  if (openFiles === undefined || spec.model !== "bgp") return Number.POSITIVE_INFINITY;
  const others = spec.nodes - 1;
  const reflectors = Math.min(spec.routeReflectors ?? 0, spec.nodes);
  const sessions = spec.underlay === "l3" ? 1 : reflectors > 0 ? reflectors : others;
  const reflectorSockets = spec.underlay === "l2" && reflectors > 0 ? Math.ceil(1.25 * others) : 0;
  const budget = Math.floor(0.9 * openFiles) - descriptorsPerHost - reflectors * reflectorSockets;
  return Math.max(1, Math.floor(budget / (Math.ceil(1.25 * sessions) + descriptorsPerAgent)));
}

/**
 * Pure: how many agents share one process. `asked` (--agents-per-process) wins; absent (auto): one
 * each up to 20 nodes, or where hosting is refused; else one host per core (each host is one
 * JavaScript thread), more where a host would hold over 100 agents or more sockets than it may
 * open (maxAgentsForDescriptors), as even as they come. On this 2-core machine 200 nodes in 2 hosts
 * came up in 105 s with 64 CPU-s in the hosts, in 4 hosts in 122 s with 82 (bench/README.md,
 * "agent hosts").
 */
export function agentsPerProcess(
  spec: Pick<LabSpec, "model" | "datastore" | "nodes" | "attach"> & Partial<DescriptorSpec>,
  asked: number | undefined,
  cpus: number,
  openFiles?: number,
): number {
  if (asked !== undefined) return Math.max(1, Math.min(asked, spec.nodes));
  if (spec.nodes <= ownProcessUpTo || hostingRefusal(spec)) return 1;
  const fit = maxAgentsForDescriptors({ underlay: "l2", ...spec }, openFiles);
  const hosts = Math.max(
    Math.max(1, Math.floor(cpus)),
    Math.ceil(spec.nodes / agentsPerHostCap),
    Math.ceil(spec.nodes / fit),
  );
  return Math.ceil(spec.nodes / hosts);
}

export interface HostPlan {
  /** h0, h1, … */
  readonly id: string;
  readonly nodes: readonly string[];
}

/**
 * Pure: the hosts and their nodes, dealt round-robin (node i to host i mod H): the agents that start
 * together (the start window takes nodes in order) land on different hosts, so on different cores.
 */
export function planAgentHosts(nodes: readonly string[], perProcess: number): HostPlan[] {
  if (perProcess <= 1) return [];
  const count = Math.ceil(nodes.length / perProcess);
  const hosts = Array.from({ length: count }, (_, i) => ({ id: `h${i}`, nodes: [] as string[] }));
  for (const [i, n] of nodes.entries()) hosts[i % count]?.nodes.push(n);
  return hosts;
}

export const hostsDir = join(labDir, "hosts");
export const hostFiles = (id: string) => ({
  spec: join(hostsDir, `${id}.json`),
  control: join(hostsDir, `${id}.sock`),
  log: join(hostsDir, `${id}.log`),
});

/** Write a host's spec file (root-only, in the lab's directory). */
export async function writeHostSpec(id: string, spec: HostSpec): Promise<string> {
  await mkdir(hostsDir, { recursive: true, mode: 0o700 });
  const file = hostFiles(id).spec;
  await writeFile(file, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** The recorded agent host `id` (a hosted agent's `host`), if the state names one. */
export const hostRecordOf = (
  state: Pick<LabState, "processes">,
  id: string | undefined,
): LabProcess | undefined => state.processes.find((p) => p.role === "agent-host" && p.host === id);

/** The control socket a host was started with (from its recorded argv). */
export function controlOf(host: LabProcess): string {
  const i = host.argv.indexOf("--control");
  const path = i >= 0 ? host.argv[i + 1] : undefined;
  if (!path) throw new StrataError("lab.agent-host", `${host.host}'s command line names no --control socket`);
  return path;
}

/** One hosted agent's state as its host reports it. */
export async function hostedAgentStatus(
  host: LabProcess,
  node: string,
): Promise<HostedAgentStatus | undefined> {
  const r = await askHost(controlOf(host), { op: "status" }, 10_000);
  return r.agents.find((a) => a.node === node);
}
