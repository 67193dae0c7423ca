import { type Kernel, namedNetns } from "../kernel/api.js";
import type { LabState } from "./runner.js";
import { outsideIp } from "./topology.js";

export interface CheckResult {
  readonly kind: "same node" | "cross node" | "pod→node" | "pod→outside (masquerade)" | "MTU (DF, full size)";
  readonly from: string;
  readonly to: string;
  readonly ok: boolean;
}

/** Pure: which probes make up the connectivity matrix of a lab. */
export function planChecks(
  state: LabState,
): { kind: CheckResult["kind"]; fromNs: string; from: string; to: string; size?: number }[] {
  const probes: { kind: CheckResult["kind"]; fromNs: string; from: string; to: string; size?: number }[] = [];
  const firstOf = (node: string) => state.pods.find((p) => p.node === node);
  for (const n of state.nodes) {
    const mine = state.pods.filter((p) => p.node === n.name);
    const a = mine[0];
    if (!a) continue;
    if (mine[1]) probes.push({ kind: "same node", fromNs: a.ns, from: a.name, to: mine[1].ip });
    for (const other of state.nodes) {
      if (other.name === n.name) continue;
      const b = firstOf(other.name);
      if (b) {
        probes.push({ kind: "cross node", fromNs: a.ns, from: a.name, to: b.ip });
        probes.push({
          kind: "MTU (DF, full size)",
          fromNs: a.ns,
          from: a.name,
          to: b.ip,
          size: n.podMtu - 28,
        });
      }
    }
    probes.push({ kind: "pod→node", fromNs: a.ns, from: a.name, to: n.ip });
    probes.push({ kind: "pod→outside (masquerade)", fromNs: a.ns, from: a.name, to: outsideIp });
  }
  return probes;
}

export async function runChecks(kernel: Kernel, state: LabState): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const p of planChecks(state)) {
    const argv = [
      "ping",
      "-c",
      "1",
      "-W",
      "2",
      "-q",
      ...(p.size ? ["-M", "do", "-s", String(p.size)] : []),
      p.to,
    ];
    const r = await kernel.exec(namedNetns(p.fromNs), argv);
    results.push({
      kind: p.kind,
      from: p.from,
      to: p.size ? `${p.to} (${p.size + 28} B)` : p.to,
      ok: r.code === 0,
    });
  }
  return results;
}
