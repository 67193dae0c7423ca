import { type Family, familyKey } from "../codec/end-of-rib.js";
import type { Capability } from "../codec/types.js";

/**
 * Graceful restart (RFC 4724) as pure decisions: what our OPEN says, what a peer's OPEN promised,
 * what a helper does when a session ends and when it comes back, and when a restarting speaker
 * may run its route selection. The speaker keeps the timers and does the I/O.
 */

/** How this speaker takes part in graceful restart. */
export interface GracefulRestartConfig {
  /** Seconds peers should keep our routes after our session drops (0..4095; RFC 4724 §3). */
  readonly restartTime: number;
  /** This process is a restart of an earlier one: our OPEN sets the R bit. */
  readonly restarting: boolean;
  /** The forwarding state (kernel routes) of the families below survived the restart: F bits. */
  readonly forwardingPreserved: boolean;
  /**
   * RFC 8538: our OPEN sets the N bit — a NOTIFICATION other than Hard Reset ends the session the
   * way a TCP drop does (routes kept stale), on both sides, when both advertise it.
   */
  readonly notification: boolean;
}

/** What a peer's graceful-restart capability promised (undefined: it has none). */
export interface PeerRestartTerms {
  readonly restartTime: number;
  /** The peer's R bit: it is itself restarting (it will not wait for our End-of-RIB). */
  readonly restarting: boolean;
  /** Family key ("afi/safi") → the F bit: forwarding state kept across its restart. */
  readonly families: ReadonlyMap<string, boolean>;
  /** Its N bit (RFC 8538): it handles NOTIFICATIONs gracefully. */
  readonly notification: boolean;
}

/** Our capability: every family we carry listed, with F set when forwarding state was preserved. */
export function ourRestartCapability(c: GracefulRestartConfig, families: readonly Family[]): Capability {
  return {
    kind: "graceful-restart",
    restarting: c.restarting,
    restartTime: c.restartTime,
    notification: c.notification,
    families: families.map((f) => ({ ...f, forwarding: c.restarting && c.forwardingPreserved })),
  };
}

export function peerRestartTerms(received: readonly Capability[]): PeerRestartTerms | undefined {
  const cap = received.find((c) => c.kind === "graceful-restart");
  if (cap?.kind !== "graceful-restart") return undefined;
  return {
    restartTime: cap.restartTime,
    restarting: cap.restarting,
    notification: cap.notification === true,
    families: new Map(cap.families.map((f) => [familyKey(f), f.forwarding])),
  };
}

/** How a session ended, as far as graceful restart cares. */
export type SessionEnd =
  /** The TCP connection closed or failed (the peer's process died, a reset). */
  | "transport"
  /** Our hold timer expired: the peer went silent. */
  | "hold-timer"
  /**
   * A NOTIFICATION other than Hard Reset ended it, sent or received: graceful when both sides set
   * the N bit (RFC 8538 §4), final otherwise.
   */
  | "notification"
  /** A Cease / Hard Reset (RFC 8538 §3), sent or received: final whatever was negotiated. */
  | "hard-reset"
  /** We stopped the session ourselves (peer removed, speaker stopping). */
  | "administrative";

/** Cease (code 6) subcode 9, Hard Reset (RFC 8538 §3). */
export const hardResetSubcode = 9;

/** Both OPENs set the N bit (RFC 8538 §2): NOTIFICATIONs end this session gracefully, Hard Reset excepted. */
export function notificationNegotiated(
  ours: GracefulRestartConfig | undefined,
  received: readonly Capability[],
): boolean {
  const cap = received.find((c) => c.kind === "graceful-restart");
  return ours?.notification === true && cap?.kind === "graceful-restart" && cap.notification === true;
}

/**
 * Cease subcodes whose NOTIFICATION RFC 8538 §5 suggests sending as a Hard Reset: Maximum Number of
 * Prefixes Reached, Administrative Shutdown, Peer De-configured (and Hard Reset itself). The rest
 * (Administrative Reset included: "provider determined", graceful here as in FRR's default)
 * go as they are and end the session gracefully.
 */
const hardCeaseSubcodes: ReadonlySet<number> = new Set([1, 2, 3, hardResetSubcode]);

/** A NOTIFICATION as it goes on the wire, and whether it ends the session for good. */
export interface OutgoingNotification {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  readonly end: "notification" | "hard-reset";
}

/**
 * RFC 8538 §3, §5: with the N bit on both sides, a NOTIFICATION that must end the session for good
 * goes as Cease / Hard Reset carrying the original code, subcode and data; `graceful` keeps a
 * Cease as it is (a planned restart: the peer keeps our routes). Without N every NOTIFICATION
 * is final and goes as it is.
 */
export function outgoingNotification(
  n: { readonly code: number; readonly subcode: number; readonly data?: Uint8Array },
  o: { readonly notificationNegotiated: boolean; readonly graceful?: boolean },
): OutgoingNotification {
  const data = n.data ?? new Uint8Array();
  if (!o.notificationNegotiated) return { code: n.code, subcode: n.subcode, data, end: "notification" };
  const isHardReset = n.code === 6 && n.subcode === hardResetSubcode;
  if (isHardReset) return { code: 6, subcode: hardResetSubcode, data, end: "hard-reset" };
  if (n.code !== 6 || o.graceful || !hardCeaseSubcodes.has(n.subcode))
    return { code: n.code, subcode: n.subcode, data, end: "notification" };
  const wrapped = new Uint8Array(2 + data.length);
  wrapped[0] = n.code;
  wrapped[1] = n.subcode;
  wrapped.set(data, 2);
  return { code: 6, subcode: hardResetSubcode, data: wrapped, end: "hard-reset" };
}

/** How a NOTIFICATION we received ends the session (RFC 8538 §3: Hard Reset is final). */
export const receivedNotificationEnd = (n: { readonly code: number; readonly subcode: number }) =>
  n.code === 6 && n.subcode === hardResetSubcode ? ("hard-reset" as const) : ("notification" as const);

/** What a helper does with a peer's routes when its session ends. */
export type OnSessionEnd =
  | { readonly keep: false }
  | { readonly keep: true; readonly families: readonly string[]; readonly restartSeconds: number };

/**
 * RFC 4724 §4.2: when a session with a peer that advertised graceful restart ends without a
 * NOTIFICATION — or, both sides having set the N bit (RFC 8538 §4), with one other than Hard
 * Reset — keep its routes of the families it listed (both sides carry them), marked stale, for
 * its restart time. Anything else (no capability, a final NOTIFICATION, a Hard Reset, our own stop,
 * restart time 0) removes them at once. `nBitAgreed` is the session's own answer of
 * `notificationNegotiated` (the one place the N-bit agreement is decided), not worked out again here.
 */
export function onSessionEnd(
  terms: PeerRestartTerms | undefined,
  end: SessionEnd,
  negotiatedFamilies: readonly string[],
  nBitAgreed = false,
): OnSessionEnd {
  if (!terms || terms.restartTime === 0) return { keep: false };
  const graceful = end === "transport" || end === "hold-timer" || (end === "notification" && nBitAgreed);
  if (!graceful) return { keep: false };
  const families = negotiatedFamilies.filter((f) => terms.families.has(f));
  if (families.length === 0) return { keep: false };
  return { keep: true, families, restartSeconds: terms.restartTime };
}

/**
 * RFC 4724 §4.2: the peer is back while its routes are stale. A family stays stale until the
 * peer's End-of-RIB for it only when the new OPEN lists it with the F bit set (its forwarding
 * state survived); otherwise its stale routes go now.
 */
export function onReestablished(
  terms: PeerRestartTerms | undefined,
  staleFamilies: readonly string[],
): { readonly flush: readonly string[]; readonly awaitEndOfRib: readonly string[] } {
  const kept = (f: string) => terms?.families.get(f) === true;
  return { flush: staleFamilies.filter((f) => !kept(f)), awaitEndOfRib: staleFamilies.filter(kept) };
}

/** A peer as the restarting speaker's selection deferral sees it. */
export interface DeferralPeer {
  readonly established: boolean;
  /** A TCP connection with it has opened since our start (it is alive, maybe slow). */
  readonly reached?: boolean;
  readonly terms: PeerRestartTerms | undefined;
  /** Families negotiated on the session ("afi/safi"). */
  readonly families: readonly string[];
  /** Families whose End-of-RIB the peer has sent on this session. */
  readonly endOfRib: ReadonlySet<string>;
}

/**
 * RFC 4724 §4.1: a restarting speaker defers route selection until every peer has sent End-of-RIB
 * for every family, leaving out peers without the capability and peers restarting themselves
 * (their R bit). A peer whose session is not up yet is waited for — unless `excuseUnreached` (a
 * few seconds since the start have passed) and it never even opened a TCP connection while
 * another peer is done: like FRR, which waits only for peers that came up, and unlike a wait of
 * the whole deferral time for a neighbour that is dead. With nobody done the deferral timer ends
 * the wait. `unreached`: peers left out so.
 */
export function selectionMayRun(
  peers: readonly DeferralPeer[],
  o: { readonly excuseUnreached?: boolean } = {},
): { readonly run: boolean; readonly unreached: number } {
  const done = (p: DeferralPeer) =>
    p.established && (!p.terms || p.terms.restarting || p.families.every((f) => p.endOfRib.has(f)));
  const excused = (p: DeferralPeer) => o.excuseUnreached === true && !p.established && p.reached !== true;
  const finished = peers.filter(done).length;
  const unreached = peers.filter((p) => !done(p) && excused(p)).length;
  const run = finished + unreached === peers.length && (unreached === 0 || finished > 0);
  return { run, unreached: run ? unreached : 0 };
}
