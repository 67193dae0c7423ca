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
  /** The peer dialled us lately (refused then: not yet our peer), so its speaker listens. */
  dialledUs = false,
): "now" | "hold" | "never" {
  if (peer.passive) return "never";
  return notListening?.has(peer.address) && !dialledUs ? "hold" : "now";
}

/**
 * The addresses whose connections were refused as not a configured peer, lately: a node that
 * joins dials every peer before they have planned its lease, and is refused. When one of them
 * is then added as a peer, it listens (it just dialled), so its first dial is not held: the
 * session comes up now, not at our next heartbeat read or its next redial (its backoff has grown
 * with each refusal). Anyone can connect to the port, so this is bounded: the newest `max`
 * addresses, each for `ttlMs`.
 */
export class RecentDialers {
  readonly #at = new Map<string, number>();

  constructor(
    private readonly max = 4096,
    private readonly ttlMs = 60_000,
  ) {}

  note(address: string, now: number): void {
    this.#at.delete(address);
    this.#at.set(address, now);
    if (this.#at.size > this.max) {
      const oldest = this.#at.keys().next().value;
      if (oldest !== undefined) this.#at.delete(oldest);
    }
  }

  /** Whether `address` dialled lately; an answer once: the entry is used up. */
  take(address: string, now: number): boolean {
    const at = this.#at.get(address);
    if (at === undefined) return false;
    this.#at.delete(address);
    return now - at <= this.ttlMs;
  }
}
