/**
 * Undo steps recorded after each side effect succeeds, run newest-first when a multi-step
 * operation fails. Replaces rollback-by-error-flag, which leaks whenever a new path forgets the flag.
 */
export class UndoStack {
  readonly #steps: { label: string; undo: () => Promise<void> }[] = [];

  push(label: string, undo: () => Promise<void>): void {
    this.#steps.push({ label, undo });
  }

  /** Forget every step: the operation committed. */
  commit(): void {
    this.#steps.length = 0;
  }

  /** Run every step newest-first; failures are collected, never stop the unwinding. */
  async unwind(): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (err) {
        failures.push(`${step.label}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}
