/**
 * Pure: how long to wait before dialling a peer again, seconds, after `failures` dials in a row
 * that never reached OpenSent (refused, unreachable, or closed before its OPEN). The first retry
 * waits the connect-retry time; each failure after it doubles the wait, up to `maxSeconds` (never
 * below the connect-retry time). Then ×0.75–1.0 jitter, as RFC 4271 §10 asks of ConnectRetry, so
 * speakers that start together do not dial in step.
 *
 * Why: a peer whose speaker is not listening yet (its agent is still starting, or it is down) was
 * dialled every connect-retry interval, forever. In a 100-node full mesh starting on two cores
 * that was most of the connections made. A peer known to be back is dialled at once (dialNow).
 */
export function redialSeconds(
  connectRetrySeconds: number,
  failures: number,
  maxSeconds: number,
  random: () => number = Math.random,
): number {
  const cap = Math.max(connectRetrySeconds, maxSeconds);
  const doublings = Math.min(Math.max(0, failures - 1), 30);
  const base = Math.min(cap, connectRetrySeconds * 2 ** doublings);
  return base * (0.75 + 0.25 * random());
}
