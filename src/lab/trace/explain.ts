import type { StopReason } from "./stop-reasons.js";
import type { PredictedHop, Sighting, TraceHop, TracePacket } from "./trace-model.js";

/**
 * Pure: the predicted hops with the probe's sightings laid over them, and the verdict. A hop is
 * seen when the probe (addressed to the trace's destination) was captured in its namespace on one
 * of its devices, encapsulated if the hop is on the underlay, bare if not.
 */
export function proveHops(
  predicted: readonly PredictedHop[],
  sightings: readonly Sighting[],
  packet: TracePacket,
): TraceHop[] {
  const probe = sightings.filter((s) => s.dst === packet.dst);
  return predicted.map((hop) => {
    const mine = probe.filter(
      (s) =>
        s.ns === hop.ns &&
        (hop.captureDevs.length === 0 || hop.captureDevs.includes(s.dev)) &&
        // An encapsulating hop is proven by the bare packet arriving; the underlay by the outer one.
        Boolean(s.outer) === Boolean(hop.outer && hop.action !== "encapsulate"),
    );
    return { ...hop, seen: mine.length > 0, sightings: mine };
  });
}

export interface Verdict {
  readonly delivered: boolean;
  readonly stop?: StopReason;
}

/**
 * Pure: did the probe arrive, and if not, why. The kernel's state names the reason when the
 * prediction stops; a send the kernel refused is that; a probe lost where the state predicted it
 * would pass is "lost" after the last hop that saw it.
 */
export function verdict(
  hops: readonly TraceHop[],
  delivered: boolean,
  srcNs: string,
  sendError?: string,
): Verdict {
  const predictedStop = hops.find((h) => h.stop)?.stop;
  if (delivered) return { delivered };
  if (predictedStop) return { delivered, stop: predictedStop };
  if (sendError) return { delivered, stop: { kind: "send-refused", ns: srcNs, error: sendError } };
  const lastSeen = [...hops].reverse().find((h) => h.seen);
  const at = lastSeen ?? hops[0];
  return {
    delivered,
    stop: { kind: "lost", afterNs: at?.ns ?? srcNs, afterDev: at?.outDev ?? at?.inDev ?? "?" },
  };
}

/** A BGP session as an agent's /healthz reports it (backend.bgpSessions[]). */
export interface BgpSessionView {
  readonly peer: string;
  readonly state: string;
}

/** What trace needs from agents' /healthz bodies to explain a missing pod route. */
export interface RouteContext {
  readonly model: string;
  readonly underlay: "l2" | "l3";
  /** The node whose pod subnet the packet is for, and its /healthz body. */
  readonly owner?: {
    readonly node: string;
    readonly subnet: string;
    readonly ip: string;
    readonly health?: unknown;
  };
  /** The node that lacks the route (absent when the stop is on the underlay router). */
  readonly sender?: { readonly node: string; readonly health?: unknown };
}

const sessionsOf = (health: unknown): BgpSessionView[] => {
  const b = (health as { backend?: { bgpSessions?: unknown } } | undefined)?.backend?.bgpSessions;
  return Array.isArray(b) ? (b as BgpSessionView[]) : [];
};
const ownershipOf = (health: unknown): string | undefined => {
  const o = (health as { ownership?: unknown } | undefined)?.ownership;
  return typeof o === "string" && o ? o : undefined;
};

/**
 * Pure: a missing pod route, explained by the control plane that should have put it there: the
 * owner's lease is gone (it expired, was removed or taken), or a BGP session that would carry the
 * route is not Established: the sender's (to the owner in a mesh, or to its reflector); on l3 also
 * the owner's session to the router, which reflects for everyone and keeps no route of a node
 * whose session is gone. On l2 the owner's own sessions say nothing about the sender's route.
 */
export function explainMissingRoute(stop: StopReason, ctx: RouteContext): StopReason {
  if (stop.kind !== "pod-route-missing" && stop.kind !== "no-route") return stop;
  const owner = ctx.owner;
  if (!owner) return stop;
  const lost = ownershipOf(owner.health);
  if (lost) return { kind: "lease-expired", node: owner.node, subnet: owner.subnet, detail: lost };
  if (ctx.model !== "bgp") return stop;
  const down = (node: string, health: unknown, prefer?: string) => {
    const s = sessionsOf(health).filter((x) => x.state !== "Established");
    const pick = s.find((x) => x.peer === prefer) ?? s[0];
    return pick
      ? { kind: "bgp-session-down" as const, node, peer: pick.peer, state: pick.state, subnet: owner.subnet }
      : undefined;
  };
  return (
    (ctx.sender ? down(ctx.sender.node, ctx.sender.health, owner.ip) : undefined) ??
    (ctx.underlay === "l3" ? down(owner.node, owner.health) : undefined) ??
    stop
  );
}
