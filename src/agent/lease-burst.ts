/**
 * Pure: how long a new lease view waits for its pass. Views that come close together share one
 * pass once they stop for `quietMs`, but none waits past `maxDelayMs` from the first of them; a
 * view that comes within `maxDelayMs` of the last pass waits until that long after it. And
 * a pass is not started sooner than `spacing` times the last pass's length after it ended: while
 * nodes join one after another for minutes, an agent spends at most 1 / (1 + spacing) of its time
 * on lease passes. A pass that takes long because the node is busy (many agents sharing a CPU in
 * a lab, a loaded node) so spaces the next one further; on an idle node passes take milliseconds
 * and this changes nothing.
 *
 * A pass costs in proportion to the leases it plans (every peer's session, import rule and
 * route), so while views keep coming the interval between passes grows with the peers too:
 * `stormMsPerPeer` a peer, never under `maxDelayMs` nor over `maxStormMs`. At 100 peers or fewer
 * that is the one second it always was; at 200 two seconds, and a joining storm then costs each
 * agent the same lease-pass time a second as at 100 (a 200-node lab: 40 passes of 200 leases per
 * agent while the nodes joined, bench/README.md issue 16). A view after a quiet spell still
 * waits only `quietMs`.
 */
export interface LeaseBurst {
  readonly quietMs: number;
  readonly maxDelayMs: number;
  /** Pause after a pass, in multiples of its length (0: none). */
  readonly spacing: number;
  /** While views keep coming: at least this long a peer between passes (0: maxDelayMs alone). */
  readonly stormMsPerPeer: number;
  /** The most a storm's interval grows to, however many peers. */
  readonly maxStormMs: number;
}

export const defaultLeaseBurst: LeaseBurst = {
  quietMs: 100,
  maxDelayMs: 1000,
  spacing: 3,
  stormMsPerPeer: 10,
  maxStormMs: 5000,
};

/** How long after a pass the next one waits while views keep coming, for this many peers. */
export function stormIntervalMs(b: LeaseBurst, peers: number): number {
  return Math.max(b.maxDelayMs, Math.min(b.maxStormMs, peers * b.stormMsPerPeer));
}

export function leasePassDelay(
  b: LeaseBurst,
  now: number,
  /** When the first view of this burst came. */
  since: number,
  lastPass: { readonly endedAt: number; readonly ms: number } | undefined,
  /** The peers the last pass planned (the storm interval grows with them). */
  peers = 0,
): number {
  const burst = Math.min(b.quietMs, since + b.maxDelayMs - now);
  if (!lastPass) return Math.max(0, burst);
  // Views that keep coming after a pass (nodes joining one after another): one pass per storm
  // interval at most, whatever their rate, so N joining nodes cost each agent passes in
  // proportion to the time they take, not N passes of N leases each.
  const interval = stormIntervalMs(b, peers);
  const storm = now - lastPass.endedAt < interval ? lastPass.endedAt + interval - now : 0;
  const rested = lastPass.endedAt + b.spacing * lastPass.ms - now;
  return Math.max(0, burst, storm, rested);
}
