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
}

/** What a peer's graceful-restart capability promised (undefined: it has none). */
export interface PeerRestartTerms {
  readonly restartTime: number;
  /** The peer's R bit: it is itself restarting (it will not wait for our End-of-RIB). */
  readonly restarting: boolean;
  /** Family key ("afi/safi") → the F bit: forwarding state kept across its restart. */
  readonly families: ReadonlyMap<string, boolean>;
}

/** Our capability: every family we carry listed, with F set when forwarding state was preserved. */
export function ourRestartCapability(c: GracefulRestartConfig, families: readonly Family[]): Capability {
  return {
    kind: "graceful-restart",
    restarting: c.restarting,
    restartTime: c.restartTime,
    families: families.map((f) => ({ ...f, forwarding: c.restarting && c.forwardingPreserved })),
  };
}

export function peerRestartTerms(received: readonly Capability[]): PeerRestartTerms | undefined {
  const cap = received.find((c) => c.kind === "graceful-restart");
  if (cap?.kind !== "graceful-restart") return undefined;
  return {
    restartTime: cap.restartTime,
    restarting: cap.restarting,
    families: new Map(cap.families.map((f) => [familyKey(f), f.forwarding])),
  };
}

/** How a session ended, as far as graceful restart cares. */
export type SessionEnd =
  /** The TCP connection closed or failed (the peer's process died, a reset). */
  | "transport"
  /** Our hold timer expired: the peer went silent. */
  | "hold-timer"
  /** A NOTIFICATION ended it either way (no graceful restart without RFC 8538). */
  | "notification"
  /** We stopped the session ourselves (peer removed, speaker stopping). */
  | "administrative";

/** What a helper does with a peer's routes when its session ends. */
export type OnSessionEnd =
  | { readonly keep: false }
  | { readonly keep: true; readonly families: readonly string[]; readonly restartSeconds: number };

/**
 * RFC 4724 §4.2: when a session with a peer that advertised graceful restart ends without a
 * NOTIFICATION, keep its routes of the families it listed (both sides carry them), marked stale,
 * for its restart time. Anything else (no capability, a NOTIFICATION, our own stop, restart time 0)
 * removes them at once.
 */
export function onSessionEnd(
  terms: PeerRestartTerms | undefined,
  end: SessionEnd,
  negotiatedFamilies: readonly string[],
): OnSessionEnd {
  if (!terms || terms.restartTime === 0) return { keep: false };
  if (end !== "transport" && end !== "hold-timer") return { keep: false };
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
  readonly terms: PeerRestartTerms | undefined;
  /** Families negotiated on the session ("afi/safi"). */
  readonly families: readonly string[];
  /** Families whose End-of-RIB the peer has sent on this session. */
  readonly endOfRib: ReadonlySet<string>;
}

/**
 * RFC 4724 §4.1: a restarting speaker defers route selection until every peer has sent End-of-RIB
 * for every family, leaving out peers without the capability and peers restarting themselves
 * (their R bit); a peer whose session is not up yet is waited for (the deferral timer ends the wait).
 */
export function selectionMayRun(peers: readonly DeferralPeer[]): boolean {
  return peers.every(
    (p) => p.established && (!p.terms || p.terms.restarting || p.families.every((f) => p.endOfRib.has(f))),
  );
}
