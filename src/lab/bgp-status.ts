import { type Kernel, namedNetns } from "../kernel/api.js";
import type { LabState } from "./runner.js";
import { expectedBgpSessions, underlayNs } from "./topology.js";

export interface BgpSessionCount {
  /** Established TCP connections on port 179, per lab namespace (node name or "router"). */
  readonly ends: readonly (readonly [string, number])[];
  /** Sessions in all: both ends of each are in lab namespaces. */
  readonly total: number;
  readonly expected: number;
}

/**
 * BGP sessions as the kernel sees them, not as the speakers report them: established TCP
 * connections with port 179 at either end, IPv4 and IPv6 (kernel.tcpSessions: an inet_diag dump
 * per namespace with the rtnetlink driver, no process; `ss` with the iproute2 driver alone).
 */
export async function countBgpSessions(kernel: Kernel, state: LabState): Promise<BgpSessionCount> {
  const count = async (ns: string) => (await kernel.tcpSessions(namedNetns(ns), { port: 179 })).length;
  const ends: [string, number][] = [];
  for (const n of state.nodes) ends.push([n.name, await count(n.ns)]);
  if (state.spec.underlay === "l3") ends.push(["router", await count(underlayNs)]);
  const total = ends.reduce((sum, [, c]) => sum + c, 0) / 2;
  return { ends, total, expected: expectedBgpSessions(state.spec) };
}
