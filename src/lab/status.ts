import type { ConnectionCounts } from "../bgp/speaker/connection-counts.js";
import type { Kernel } from "../kernel/api.js";
import { isAlive } from "../process/process-identity.js";
import { agentHealth } from "./agent-health.js";
import { formatBgpConnections, sumBgpConnections } from "./bgp-connections.js";
import { type BgpSessionCount, countBgpSessions } from "./bgp-status.js";
import { flagValue } from "./control.js";
import type { LabProcess, LabState } from "./state.js";

/** A recorded process as it is now. */
export interface ProcessStatus {
  readonly role: LabProcess["role"];
  readonly node?: string;
  /** undefined: stopped (`lab agent stop`, `lab datastore stop`). */
  readonly pid?: number;
  /** Running and still provably the lab's (start time and argv). */
  readonly alive: boolean;
  readonly log: string;
}

export interface NodeStatus {
  readonly name: string;
  readonly ip: string;
  readonly ns: string;
  readonly subnet: string;
  /** `--ip-family dual`: the node's IPv6 pod subnet. */
  readonly subnet6?: string;
  readonly podMtu: number;
  readonly agent: {
    readonly pid?: number;
    readonly alive: boolean;
    /** /healthz answered 200. */
    readonly healthy: boolean;
    /** undefined: nothing answered on the health port. */
    readonly httpStatus?: number;
    /** /healthz as the agent reports it. */
    readonly health?: unknown;
  };
}

/** `strata lab status --json`: one object, stable keys, for scripts. */
export interface LabStatusReport {
  readonly up: true;
  /** false while `lab up` is still building (or was interrupted before it finished). */
  readonly complete: boolean;
  /** Every recorded process alive and every agent healthy. */
  readonly ok: boolean;
  readonly model: string;
  readonly underlay: string;
  readonly nodes: readonly NodeStatus[];
  readonly pods: readonly {
    readonly name: string;
    readonly node: string;
    readonly ip: string;
    /** `--ip-family dual`: its IPv6 address. */
    readonly ip6?: string;
    /** Its network namespace exists. */
    readonly present: boolean;
  }[];
  readonly datastore: {
    readonly kind: string;
    /** The socket (embedded) or URL (etcd) the agents use. */
    readonly endpoint?: string;
    readonly pid?: number;
    readonly alive: boolean;
  };
  readonly processes: readonly ProcessStatus[];
  readonly bgpSessions?: BgpSessionCount;
  /** The agents' BGP connection counts summed: what the sessions cost in TCP connections. */
  readonly bgpConnections?: ConnectionCounts;
}

function processStatus(p: LabProcess): ProcessStatus {
  const alive = p.running !== undefined && isAlive({ ...p.running, argv: p.argv });
  return { role: p.role, ...(p.node ? { node: p.node } : {}), pid: p.running?.pid, alive, log: p.log };
}

/** Gather the lab's status from the state file, /proc, the agents' health ports and the kernel. */
export async function labStatus(kernel: Kernel, state: LabState): Promise<LabStatusReport> {
  const processes = state.processes.map(processStatus);
  const namespaces = new Set(await kernel.netns.list());
  const nodes: NodeStatus[] = [];
  for (const n of state.nodes) {
    const proc = processes.find((p) => p.role === "agent" && p.node === n.name);
    const h = namespaces.has(n.ns) ? await agentHealth(kernel, n.ns) : {};
    nodes.push({
      name: n.name,
      ip: n.ip,
      ns: n.ns,
      subnet: n.subnet,
      ...(n.subnet6 ? { subnet6: n.subnet6 } : {}),
      podMtu: n.podMtu,
      agent: {
        pid: proc?.pid,
        alive: proc?.alive ?? false,
        healthy: h.httpStatus === 200,
        ...(h.httpStatus !== undefined ? { httpStatus: h.httpStatus, health: h.body } : {}),
      },
    });
  }
  const ds = processes.find((p) => p.role === "datastore");
  const dsProc = state.processes.find((p) => p.role === "datastore");
  const endpoint =
    state.spec.datastore === "etcd" ? state.etcdEndpoint : dsProc && flagValue(dsProc.argv, "--socket");
  const report: LabStatusReport = {
    up: true,
    complete: state.complete,
    ok:
      state.complete &&
      processes.every((p) => p.alive) &&
      nodes.every((n) => n.agent.healthy) &&
      state.pods.every((p) => namespaces.has(p.ns)),
    model: state.spec.model,
    underlay: state.spec.underlay,
    nodes,
    pods: state.pods.map((p) => ({
      name: p.name,
      node: p.node,
      ip: p.ip,
      ...(p.ip6 ? { ip6: p.ip6 } : {}),
      present: namespaces.has(p.ns),
    })),
    datastore: {
      kind: state.spec.datastore,
      ...(endpoint ? { endpoint } : {}),
      pid: ds?.pid,
      alive: ds?.alive ?? false,
    },
    processes,
    ...(state.spec.model === "bgp" && state.complete
      ? { bgpSessions: await countBgpSessions(kernel, state) }
      : {}),
  };
  const connections = sumBgpConnections(nodes.map((n) => n.agent.health));
  if (connections) return { ...report, bgpConnections: connections };
  return report;
}

/** Pure: one word for an agent, as people read the table. */
export function agentWord(a: NodeStatus["agent"]): string {
  if (!a.alive) return a.pid === undefined ? "stopped" : "dead";
  if (a.httpStatus === undefined) return "not answering";
  return a.healthy ? "healthy" : `unhealthy (${a.httpStatus})`;
}

/** Pure: the report as a table for people. */
export function formatLabStatus(r: LabStatusReport): string {
  const lines: string[] = [];
  const ds = r.datastore;
  lines.push(
    `model ${r.model}, underlay ${r.underlay}, datastore ${ds.kind} ${ds.endpoint ?? ""} ` +
      `(${ds.alive ? `running, pid ${ds.pid}` : ds.pid === undefined ? "stopped" : "dead"})` +
      (r.complete ? "" : " — lab up did not finish"),
  );
  lines.push("");
  lines.push(
    `${"node".padEnd(6)} ${"address".padEnd(15)} ${"pod subnet".padEnd(18)} ${"pid".padEnd(8)} agent`,
  );
  for (const n of r.nodes) {
    lines.push(
      `${n.name.padEnd(6)} ${n.ip.padEnd(15)} ${(n.subnet || "-").padEnd(18)} ${String(n.agent.pid ?? "-").padEnd(8)} ${agentWord(n.agent)}${n.subnet6 ? `  (IPv6 pods ${n.subnet6})` : ""}`,
    );
  }
  if (r.pods.length > 0) {
    lines.push("");
    lines.push(`${"pod".padEnd(10)} ${"node".padEnd(6)} address`);
    for (const p of r.pods)
      lines.push(
        `${p.name.padEnd(10)} ${p.node.padEnd(6)} ${p.ip}${p.ip6 ? `  ${p.ip6}` : ""}${p.present ? "" : "  (namespace gone)"}`,
      );
  }
  if (r.bgpSessions) {
    const c = r.bgpSessions;
    lines.push("");
    lines.push(
      `BGP sessions (established, port 179): ${c.ends.map(([n, k]) => `${n} ${k}`).join(" · ")} — ${c.total} in all, ${c.expected} expected`,
    );
    if (r.bgpConnections) lines.push(formatBgpConnections(r.bgpConnections, c.total));
  }
  lines.push("");
  lines.push(
    r.ok ? "all processes up, every agent healthy" : "NOT ok (see above; --json for the agents' /healthz)",
  );
  return lines.join("\n");
}
