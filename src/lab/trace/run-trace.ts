import { StrataError } from "../../common/errors.js";
import { type Kernel, namedNetns } from "../../kernel/api.js";
import { readSpoofCounts } from "../../plugins/strata/source-guard.js";
import { agentHealth } from "../agent-health.js";
import type { LabState } from "../state.js";
import { explainMissingRoute, proveHops, verdict } from "./explain.js";
import { LabPlaces, type TraceEndpoint } from "./lab-places.js";
import { predictStep } from "./predict-step.js";
import { sendProbe } from "./prove.js";
import type { StopReason } from "./stop-reasons.js";
import { gatherFacts, type NsStateCache, nsState } from "./trace-facts.js";
import type { PredictedHop, TracePacket, TraceProto, TraceReport } from "./trace-model.js";

export interface TraceRequest {
  readonly src: string;
  readonly dst: string;
  readonly proto?: TraceProto;
  readonly port?: number;
  /** IP packet size of the probe (DF set on IPv4); default as `ping`'s: 84 B, 104 B over IPv6. */
  readonly size?: number;
  /** Send from this address instead of SRC's own (to see the source guard at work). */
  readonly srcIp?: string;
}

export class TraceRequestError extends StrataError {
  constructor(message: string) {
    super("lab.trace.request", message);
  }
}

/** The probe's headers and its marker must fit: IPv4 20 + TCP 20 + marker 25, rounded up. */
export const minProbeSize = 68;
/** The same over IPv6: a 40-byte header. */
export const minProbeSize6 = 88;
/** `ping`'s default packet: 56 bytes of payload, 84 B over IPv4, 104 B over IPv6. */
const defaultSize = (v6: boolean) => (v6 ? 104 : 84);
const defaultPorts = { icmp: undefined, tcp: 80, udp: 5201 } as const;

/** Pure: the packet a request asks for, or a typed error saying what to fix. */
export function tracePacket(req: TraceRequest, src: string, dst: string): TracePacket {
  const proto = req.proto ?? "icmp";
  if (!["icmp", "tcp", "udp"].includes(proto))
    throw new TraceRequestError(`--proto: "${proto}" is not icmp, tcp or udp`);
  const v6 = dst.includes(":");
  if (v6 !== src.includes(":"))
    throw new TraceRequestError(
      `${src} → ${dst}: one is IPv4, the other IPv6; trace a pair of one family (on dual stack give both addresses, or --src-ip of DST's family)`,
    );
  const size = req.size ?? defaultSize(v6);
  const min = v6 ? minProbeSize6 : minProbeSize;
  if (!Number.isInteger(size) || size < min || size > 65535)
    throw new TraceRequestError(
      `--size: ${size} must be an IP packet size from ${min} to 65535 bytes${v6 ? " (IPv6)" : ""}`,
    );
  const port = req.port ?? defaultPorts[proto];
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
    throw new TraceRequestError(`--port: ${port} must be 1 to 65535`);
  if (proto === "icmp" && req.port !== undefined)
    throw new TraceRequestError("--port needs --proto tcp or udp");
  return { src, dst, proto, size, ...(port !== undefined ? { port } : {}) };
}

/** The predicted path: the kernel of each namespace on the way, asked in turn (I/O + predictStep). */
export async function predictPath(
  kernel: Kernel,
  places: LabPlaces,
  srcNs: string,
  packet: TracePacket,
  readAhead: readonly string[] = [],
): Promise<{ hops: PredictedHop[]; delivered: boolean }> {
  const hops: PredictedHop[] = [];
  let pos: Parameters<typeof predictStep>[0] | undefined = { ns: srcNs, packet };
  const cache: NsStateCache = new Map();
  // The namespaces the path most likely crosses are read at once, not one after another; a
  // namespace the path does not cross costs a few reads, never a wrong answer.
  for (const ns of readAhead) void nsState(kernel, ns, places, cache).catch(() => undefined);
  // A path of the lab crosses at most ~8 namespaces; the bound only guards against a routing loop.
  for (let i = 0; pos && i < 24; i++) {
    const step = predictStep(pos, await gatherFacts(kernel, pos, places, cache), places);
    hops.push(...step.hops);
    if (step.delivered) return { hops, delivered: true };
    pos = step.next;
  }
  return { hops, delivered: false };
}

/** Pure: the sender, its node, the underlay, the receiver's node and the receiver. */
export function likelyNamespaces(places: LabPlaces, from: TraceEndpoint, to: TraceEndpoint): string[] {
  const nodeNs = (e: TraceEndpoint) =>
    e.place.node ? places.state.nodes.find((n) => n.name === e.place.node)?.ns : undefined;
  const all = [from.place.ns, nodeNs(from), places.underlay.ns, nodeNs(to), to.place.ns];
  return [...new Set(all.filter((x): x is string => x !== undefined))];
}

/** `strata lab trace`: predict the path from the kernel's state, prove it with a probe, say why it stopped. */
export async function runLabTrace(kernel: Kernel, state: LabState, req: TraceRequest): Promise<TraceReport> {
  const places = new LabPlaces(state);
  let from = places.resolve("SRC", req.src);
  let to = places.resolve("DST", req.dst);
  // Dual stack: a name takes the family of the address given for the other end.
  const v6 = (e: TraceEndpoint) => e.ip.includes(":");
  if (v6(to) && !v6(from) && from.ip6) from = { ...from, ip: from.ip6 };
  else if ((v6(from) || req.srcIp?.includes(":")) && !v6(to) && to.ip6) to = { ...to, ip: to.ip6 };
  const packet = tracePacket(req, req.srcIp ?? from.ip, to.ip);
  const t0 = performance.now();
  const predicted = await predictPath(
    kernel,
    places,
    from.place.ns,
    packet,
    likelyNamespaces(places, from, to),
  );
  const t1 = performance.now();
  const predictedStop = predicted.hops.find((h) => h.stop)?.stop;
  const guardNs = predictedStop?.kind === "spoofed-source" ? predictedStop.ns : undefined;
  const onGuardNs = (argv: readonly string[]) => kernel.exec(namedNetns(guardNs ?? ""), argv);
  const before = guardNs ? await readSpoofCounts(onGuardNs) : undefined;
  const probe = await sendProbe(kernel, {
    packet,
    srcNs: from.place.ns,
    capture: [...predicted.hops.map((h) => h.ns), to.place.ns],
    doneNs: to.place.ns,
    // A packet crosses the lab in well under 10 ms; waiting longer only matters for a lost one.
    timeoutMs: predicted.delivered ? 1000 : 300,
  });
  const after = guardNs ? await readSpoofCounts(onGuardNs) : undefined;
  const t2 = performance.now();
  const hops = proveHops(predicted.hops, probe.sightings, packet);
  const delivered = probe.sightings.some(
    (s) => s.ns === to.place.ns && s.dst === to.ip && !s.outer && !s.outgoing,
  );
  let { stop } = verdict(hops, delivered, from.place.ns, probe.sendError);
  if (stop?.kind === "spoofed-source" && before && after)
    stop = packet.src.includes(":")
      ? { ...stop, counter: { before: before.ipv6, after: after.ipv6 } }
      : { ...stop, counter: { before: before.ipv4, after: after.ipv4 } };
  if (stop) stop = await explainWithControlPlane(kernel, state, places, stop, packet);
  const t3 = performance.now();
  return {
    from: from.place.name,
    fromAddress: from.ip,
    to: to.place.name,
    packet,
    model: state.spec.model,
    underlay: state.spec.underlay,
    hops,
    delivered,
    ...(stop ? { stop } : {}),
    timings: { predictMs: t1 - t0, proveMs: t2 - t1, totalMs: t3 - t0 },
  };
}

/** A missing pod route: ask the agents' /healthz (lease, BGP sessions) why. */
async function explainWithControlPlane(
  kernel: Kernel,
  state: LabState,
  places: LabPlaces,
  stop: StopReason,
  packet: TracePacket,
): Promise<StopReason> {
  if (stop.kind !== "pod-route-missing" && stop.kind !== "no-route") return stop;
  const owner = places.subnetOwner(packet.dst);
  const ownerNode = state.nodes.find((n) => n.name === owner?.node);
  if (!owner || !ownerNode) return stop;
  const senderNode =
    stop.kind === "pod-route-missing" ? state.nodes.find((n) => n.name === stop.node) : undefined;
  const [ownerHealth, senderHealth] = await Promise.all([
    agentHealth(kernel, ownerNode.ns),
    senderNode ? agentHealth(kernel, senderNode.ns) : Promise.resolve(undefined),
  ]);
  return explainMissingRoute(stop, {
    model: state.spec.model,
    underlay: state.spec.underlay,
    owner: {
      node: owner.node,
      subnet: owner.subnet,
      // The owner's address of the packet's family (IPv6 sessions on an IPv6-only lab).
      ip: places.resolve("DST", owner.node).ip,
      health: ownerHealth.body,
    },
    ...(senderNode ? { sender: { node: senderNode.name, health: senderHealth?.body } } : {}),
  });
}
