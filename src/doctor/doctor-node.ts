import { type ClusterCidrs, parseClusterCidrs, primaryClusterCidr } from "../cluster/cluster-cidrs.js";
import { SubnetLeases } from "../cluster/subnet-leases.js";
import { describeError } from "../common/errors.js";
import type { Datastore } from "../datastore/api.js";
import type { Kernel, Netns } from "../kernel/api.js";
import { readSpoofCounts } from "../plugins/strata/source-guard.js";
import type { SpoofCounts } from "../plugins/strata/source-guard-plan.js";
import { encapsulatesTo, firstHost, vtepOf } from "./checks/model.js";
import type { AgentFacts, AgentHealthBody, ClusterFacts, NodeFacts } from "./facts.js";
import { gatherKernel } from "./gather-kernel.js";
import { gatherStateDir } from "./gather-state.js";
import { type ProbeTarget, runProbes } from "./probes.js";
import { runChecks } from "./run-checks.js";
import type { Verdict } from "./verdict.js";

export interface DoctorNodeOptions {
  readonly kernel: Kernel;
  /** The node's namespace: `strata doctor` runs in it (currentNetns). */
  readonly ns: Netns;
  readonly healthPort: number;
  readonly underlayDev: string;
  readonly stateDir?: string;
  /** The datastore the agent uses; without it the checks that need the other nodes are skipped. */
  readonly store?: Datastore;
  /** The node's name when the agent does not answer. */
  readonly node?: string;
  readonly clusterCidr?: string;
}

/** The agent's /healthz on 127.0.0.1 of this process's namespace, whatever its status. */
export async function readAgentHealth(port: number): Promise<AgentFacts> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return { port, httpStatus: res.status, health: (await res.json()) as AgentHealthBody };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { port, error: cause ?? describeError(err) };
  }
}

async function readCluster(
  store: Datastore,
  cidrs: ClusterCidrs,
  subnet: string | undefined,
  subnet6: string | undefined,
): Promise<ClusterFacts> {
  // IPv6-only: the IPv6 CIDR is the primary one, its subnets /64 unless the node's says otherwise.
  const subnetLen = Number(subnet?.split("/")[1] ?? (cidrs.ipv4 ? 24 : 64));
  const policy = {
    clusterCidr: primaryClusterCidr(cidrs),
    subnetLen,
    ...(cidrs.ipv4 && cidrs.ipv6
      ? { clusterCidr6: cidrs.ipv6, subnetLen6: Number(subnet6?.split("/")[1] ?? 64) }
      : {}),
  };
  const view = await new SubnetLeases(store, policy).snapshot();
  return { leases: view.leases, rejected: view.rejected };
}

/** The node's source-guard drop counters (`nft -j list counters` in its namespace). */
async function readGuardCounts(o: DoctorNodeOptions): Promise<{ counts?: SpoofCounts; error?: string }> {
  try {
    return { counts: await readSpoofCounts((argv, opts) => o.kernel.exec(o.ns, argv, opts)) };
  } catch (err) {
    return { error: describeError(err) };
  }
}

/** Pure: the route families a node's pods use: IPv4, both on dual stack, IPv6 alone on an IPv6-only cluster. */
export const nodeRouteFamilies = (cidrs: ClusterCidrs): (4 | 6)[] => [
  ...(cidrs.ipv4 ? [4 as const] : []),
  ...(cidrs.ipv6 ? [6 as const] : []),
];

/** Gather the facts of the node this runs on: agent, state directory, datastore, kernel, probes. */
export async function gatherNode(o: DoctorNodeOptions): Promise<NodeFacts> {
  const guardStart = Date.now();
  const guardBefore = await readGuardCounts(o);
  const [agent, stateDir] = await Promise.all([
    readAgentHealth(o.healthPort),
    o.stateDir ? gatherStateDir(o.stateDir) : undefined,
  ]);
  const node = agent.health?.node ?? o.node ?? "this node";
  let clusterError: string | undefined;
  const cidr = o.clusterCidr ?? stateDir?.subnet?.clusterCidr ?? "10.244.0.0/16";
  // `--cluster-cidr` as the agent takes it (IPv4[,IPv6]); else the IPv6 part subnet.json names.
  const parsed = parseClusterCidrs(cidr);
  const six = parsed.ipv6 ?? stateDir?.subnet?.clusterCidr6;
  const cidrs: ClusterCidrs = parsed.ipv4 ? { ...parsed, ...(six ? { ipv6: six } : {}) } : parsed;
  const subnet6 = agent.health?.subnet6 ?? stateDir?.subnet?.subnet6;
  const cluster = o.store
    ? await readCluster(o.store, cidrs, agent.health?.subnet ?? stateDir?.subnet?.subnet, subnet6).catch(
        (err) => {
          clusterError = describeError(err);
          return undefined;
        },
      )
    : undefined;
  const peers = cluster?.leases.filter((l) => l.node !== node) ?? [];
  const sessionPeers = agent.health?.backend?.bgpSessions?.map((s) => s.peer) ?? [];
  const lookups = [...new Set([...peers.flatMap((p) => [p.publicIp, firstHost(p.subnet)]), ...sessionPeers])];
  const kernel = await gatherKernel(o.kernel, o.ns, o.underlayDev, lookups, nodeRouteFamilies(cidrs));
  const self = cluster?.leases.find((l) => l.node === node);
  const model = agent.health?.model ?? self?.backend;
  const underlayMtu = kernel.links.find((l) => l.name === o.underlayDev)?.mtu ?? 1500;
  const podMtu = agent.health?.podMtu ?? stateDir?.subnet?.mtu;
  const targets: ProbeTarget[] = [];
  for (const p of peers) {
    targets.push({ kind: "underlay", peer: p, to: p.publicIp, size: underlayMtu });
    if (podMtu && encapsulatesTo(model, self, p))
      targets.push({ kind: "overlay", peer: p, to: vtepOf(p), size: podMtu });
  }
  const probes = await runProbes(o.kernel, o.ns, targets);
  const guardAfter = await readGuardCounts(o);
  const sourceGuard = {
    ...(guardBefore.counts ? { before: guardBefore.counts } : {}),
    ...(guardAfter.counts ? { after: guardAfter.counts } : {}),
    seconds: (Date.now() - guardStart) / 1000,
    ...(guardBefore.error || guardAfter.error ? { error: guardBefore.error ?? guardAfter.error } : {}),
  };
  return {
    sourceGuard,
    node,
    nowMs: Date.now(),
    underlayDev: o.underlayDev,
    agent,
    kernel,
    stateDir,
    cluster,
    clusterError,
    probes,
  };
}

export interface NodeReport {
  readonly node: string;
  readonly ok: boolean;
  readonly verdicts: readonly Verdict[];
  /** What the checks read, for --json readers who want to see why. */
  readonly facts?: NodeFacts;
}

/** `strata doctor`: gather this node's facts and run every check on them. */
export async function doctorNode(o: DoctorNodeOptions): Promise<NodeReport> {
  const facts = await gatherNode(o);
  const verdicts = runChecks(facts);
  return { node: facts.node, ok: verdicts.every((v) => v.ok), verdicts };
}
