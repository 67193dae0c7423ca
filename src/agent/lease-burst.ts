/**
 * Pure: how long a new lease view waits for its pass. Views that come close together share one
 * pass once they stop for `quietMs`, but none waits past `maxDelayMs` from the first of them; a
 * view that comes within `maxDelayMs` of the last pass waits until that long after it. And
 * a pass is not started sooner than `spacing` times the last pass's length after it ended: while
 * nodes join one after another for minutes, an agent spends at most 1 / (1 + spacing) of its time
 * on lease passes. A pass that takes long because the node is busy (many agents sharing a CPU in
 * a lab, a loaded node) so spaces the next one further; on an idle node passes take milliseconds
 * and this changes nothing.
 */
export interface LeaseBurst {
  readonly quietMs: number;
  readonly maxDelayMs: number;
  /** Pause after a pass, in multiples of its length (0: none). */
  readonly spacing: number;
}

export const defaultLeaseBurst: LeaseBurst = { quietMs: 100, maxDelayMs: 1000, spacing: 3 };

export function leasePassDelay(
  b: LeaseBurst,
  now: number,
  /** When the first view of this burst came. */
  since: number,
  lastPass: { readonly endedAt: number; readonly ms: number } | undefined,
): number {
  const burst = Math.min(b.quietMs, since + b.maxDelayMs - now);
  if (!lastPass) return Math.max(0, burst);
  // Views that keep coming after a pass (nodes joining one after another): one pass per
  // maxDelayMs at most, whatever their rate, so N joining nodes cost each agent passes in
  // proportion to the time they take, not N passes of N leases each.
  const storm = now - lastPass.endedAt < b.maxDelayMs ? lastPass.endedAt + b.maxDelayMs - now : 0;
  const rested = lastPass.endedAt + b.spacing * lastPass.ms - now;
  return Math.max(0, burst, storm, rested);
}
