/**
 * A burst window for changes that each would cost a kernel batch (the BGP speaker's learned-route
 * changes): the first change after a quiet spell goes at once, and the window opens; changes that
 * arrive while it is open wait for its end and go together in one batch, which opens the next
 * window. A lone change is never held back; a burst of N changes over T ms costs at most
 * 1 + T / windowMs batches instead of N.
 *
 * Pure: the caller feeds it events with the time and does what it says (run a pass, set a timer).
 */
export interface ChangeWindow {
  /** The open window ends at this time (ms); undefined: no window is open, a change goes at once. */
  readonly openUntil?: number;
  /** Changes arrived while the window was open: a pass is due at its end. */
  readonly pending: boolean;
}

export interface ChangeWindowStep {
  readonly window: ChangeWindow;
  /** Run a pass now. */
  readonly pass: boolean;
  /** Set the timer for this time (ms), when the window opened. */
  readonly timerAt?: number;
}

export const quietWindow: ChangeWindow = { pending: false };

/** A change arrived at `now`. */
export function changeArrived(w: ChangeWindow, now: number, windowMs: number): ChangeWindowStep {
  if (windowMs <= 0) return { window: quietWindow, pass: true };
  if (w.openUntil !== undefined) return { window: { ...w, pending: true }, pass: false };
  return { window: { openUntil: now + windowMs, pending: false }, pass: true, timerAt: now + windowMs };
}

/** The window's timer fired at `now`: what waited goes and the next window opens; else all is quiet. */
export function windowEnded(w: ChangeWindow, now: number, windowMs: number): ChangeWindowStep {
  if (!w.pending) return { window: quietWindow, pass: false };
  return { window: { openUntil: now + windowMs, pending: false }, pass: true, timerAt: now + windowMs };
}
