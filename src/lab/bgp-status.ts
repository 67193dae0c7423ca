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

/** BGP sessions as the kernel sees them, not as the speakers report them. */
export async function countBgpSessions(kernel: Kernel, state: LabState): Promise<BgpSessionCount> {
  const count = async (ns: string) => {
    const r = await kernel.exec(namedNetns(ns), [
      ...["ss", "-Htn", "state", "established"],
      "( sport = :179 or dport = :179 )",
    ]);
    return r.stdout.split("\n").filter(Boolean).length;
  };
  const ends: [string, number][] = [];
  for (const n of state.nodes) ends.push([n.name, await count(n.ns)]);
  if (state.spec.underlay === "l3") ends.push(["router", await count(underlayNs)]);
  const total = ends.reduce((sum, [, c]) => sum + c, 0) / 2;
  return { ends, total, expected: expectedBgpSessions(state.spec) };
}
