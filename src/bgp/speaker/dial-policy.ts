/**
 * Pure: how long an outbound connection waits for its TCP handshake (RFC 4271 §8.2.2, Connect
 * state) before it drops the attempt and dials again: the connect-retry time, but never less than
 * the kernel takes to retransmit an unanswered SYN twice.
 *
 * Why: Linux resends a SYN nobody answered after 1 s and again 2 s later (initial RTO 1 s,
 * doubled; RFC 6298). A SYN goes unanswered while the peer's speaker does not listen yet or does
 * not hold our TCP-MD5 key yet — with TCP-MD5 the peer's kernel drops it silently (no unsigned RST
 * is believed, RFC 2385), so the dial does not fail, it waits. The cluster's connect-retry time
 * (1 s) gave up each such dial just before its retransmission and made a new socket, handshake and
 * key; the given-up one often still completed on the peer's side, which accepted it and sent an
 * OPEN into a closed connection. In a 50-node mesh that was 1,700 abandoned dials and 1,400
 * wasted accepts for 1,225 sessions. The retransmitted SYN reaches a peer that became ready in
 * the meantime without any of that.
 */
export function connectWaitSeconds(connectRetrySeconds: number): number {
  return Math.max(connectRetrySeconds, SYN_RETRANSMITS_SECONDS);
}

/** The second SYN retransmission leaves 3 s after the first SYN; half a second more for its answer. */
export const SYN_RETRANSMITS_SECONDS = 3.5;

/**
 * Pure: dial a new peer now, or hold the first dial until it is known to listen. A peer's lease
 * appears before its speaker listens (its agent is still starting); a SYN to it is dropped — with
 * TCP-MD5 silently — and in a 200-node mesh such dials were 45 % of all (16,000 given up after
 * 3.5 s). Held, the dial waits for the peer's agent to come alive (dialNow), at most a bound (a
 * dead or silent peer still gets its session). Passive peers are never dialled.
 */
export function firstDial(
  peer: { readonly address: string; readonly passive?: boolean },
  notListening: ReadonlySet<string> | undefined,
): "now" | "hold" | "never" {
  if (peer.passive) return "never";
  return notListening?.has(peer.address) ? "hold" : "now";
}
