import { spawn } from "node:child_process";
import { type Kernel, namedNetns } from "../kernel/api.js";
import type { LabState } from "./runner.js";

const medianOf = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** iperf3 TCP throughput from one namespace to an address served in another, Gbit/s. */
export async function throughputGbps(
  k: Kernel,
  fromNs: string,
  toNs: string,
  toIp: string,
  seconds: number,
): Promise<number> {
  const server = spawn("ip", ["netns", "exec", toNs, "iperf3", "-s", "-1", "-B", toIp], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  try {
    const r = await k.exec(namedNetns(fromNs), ["iperf3", "-c", toIp, "-t", String(seconds), "-J"]);
    const j = JSON.parse(r.stdout || "{}") as { end?: { sum_received?: { bits_per_second: number } } };
    return (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    server.kill();
  }
}

/** Median ping round trip, µs. */
export async function rttMicros(k: Kernel, fromNs: string, toIp: string, count = 30): Promise<number> {
  const r = await k.exec(namedNetns(fromNs), ["ping", "-c", String(count), "-i", "0.01", toIp]);
  return medianOf([...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))) * 1000;
}

export interface PathFigures {
  readonly path: string;
  readonly from: string;
  readonly to: string;
  readonly gbps: number;
  readonly rttUs: number;
}

/** `lab bench`: one pair per path type, with the raw underlay (node→node) as the limit. */
export async function benchLab(k: Kernel, state: LabState, seconds: number): Promise<PathFigures[]> {
  const out: PathFigures[] = [];
  const [n1, n2] = state.nodes;
  const a = state.pods.find((p) => p.node === n1?.name);
  const sameNode = state.pods.find((p) => p.node === n1?.name && p !== a);
  const crossNode = state.pods.find((p) => p.node === n2?.name);
  const add = async (path: string, fromNs: string, from: string, toNs: string, to: string, toIp: string) =>
    out.push({
      path,
      from,
      to,
      gbps: await throughputGbps(k, fromNs, toNs, toIp, seconds),
      rttUs: await rttMicros(k, fromNs, toIp),
    });
  if (n1 && n2) await add("raw underlay (node→node)", n1.ns, n1.name, n2.ns, n2.name, n2.ip);
  if (a && sameNode) await add("pod→pod, same node", a.ns, a.name, sameNode.ns, sameNode.name, sameNode.ip);
  if (a && crossNode)
    await add("pod→pod, cross node", a.ns, a.name, crossNode.ns, crossNode.name, crossNode.ip);
  if (a && n2) await add("pod→other node", a.ns, a.name, n2.ns, n2.name, n2.ip);
  return out;
}
