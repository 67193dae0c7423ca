/**
 * Runs a pass serially, and merges triggers: every trigger that arrives while a pass runs joins
 * the one pass queued after it, so a burst of a thousand watch events, BGP callbacks and repair
 * ticks costs two passes, not a thousand. A trigger's promise settles after a pass that started
 * after the trigger (so a caller that awaits it sees its change applied).
 */
export class CoalescingRunner {
  #tail: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #triggers = 0;
  #passes = 0;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    /** false: one pass per trigger (the behaviour before coalescing; kept for the bench's reference). */
    private readonly coalesce = true,
  ) {}

  get triggers(): number {
    return this.#triggers;
  }

  get passes(): number {
    return this.#passes;
  }

  /** Resolves when no pass is running or queued (without asking for one). */
  async settled(): Promise<void> {
    for (let tail = this.#tail; ; tail = this.#tail) {
      await tail;
      if (tail === this.#tail) return;
    }
  }

  trigger(): Promise<void> {
    this.#triggers++;
    if (this.coalesce && this.#queued) return this.#queued;
    const next: Promise<void> = this.#tail.then(async () => {
      // From here on, a new trigger must queue another pass: this one may already have read its input.
      if (this.#queued === next) this.#queued = undefined;
      this.#passes++;
      try {
        await this.pass();
      } catch (err) {
        this.onError(err);
      }
    });
    this.#queued = next;
    this.#tail = next;
    return next;
  }
}
