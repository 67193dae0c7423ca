import { type ConnectionCounts, noConnections } from "../bgp/speaker/connection-counts.js";

/**
 * Pure: the agents' BGP connection counts (each /healthz's backend.bgpConnections) summed over the
 * lab; undefined when no agent reports any (not the bgp model, or agents not answering).
 */
export function sumBgpConnections(healths: readonly unknown[]): ConnectionCounts | undefined {
  let total: ConnectionCounts | undefined;
  for (const h of healths) {
    const c = (h as { backend?: { bgpConnections?: ConnectionCounts } } | undefined)?.backend?.bgpConnections;
    if (!c || typeof c.dials !== "number") continue;
    total ??= noConnections();
    total.dials += c.dials;
    total.dialsFailed += c.dialsFailed;
    total.dialsAbandoned += c.dialsAbandoned;
    total.accepted += c.accepted;
    total.established += c.established;
    total.redials += c.redials;
    total.dialNow += c.dialNow;
    total.held += c.held ?? 0;
    total.collisions.established += c.collisions.established;
    total.collisions.sameDirection += c.collisions.sameDirection;
    total.collisions.crossed += c.collisions.crossed;
  }
  return total;
}

/** Pure: one line for people; a session ideally costs one dial and one accept. */
export function formatBgpConnections(c: ConnectionCounts, sessions: number): string {
  const collisions = c.collisions.established + c.collisions.sameDirection + c.collisions.crossed;
  return (
    `BGP connections (the agents' counts): ${c.dials} dialled (${c.dialsAbandoned} given up by connect-retry, ` +
    `${c.dialsFailed} failed), ${c.accepted} accepted, ${collisions} closed by collision resolution, ` +
    `${c.redials} redials — for ${sessions} sessions`
  );
}
