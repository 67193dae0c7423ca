/**
 * Work a resident process finishes after answering a request (e.g. deleting a veth whose pod is
 * already cut off). Keyed, so a later request touching the same object can wait for it, and
 * drained on shutdown so nothing is left half-done by a clean stop.
 */
export class BackgroundTasks {
  readonly #tasks = new Map<string, Promise<void>>();
  readonly #onError: (key: string, err: unknown) => void;

  constructor(onError: (key: string, err: unknown) => void = () => undefined) {
    this.#onError = onError;
  }

  /** Start `work` under `key`, after any task already running under that key. */
  run(key: string, work: () => Promise<void>): void {
    const previous = this.#tasks.get(key) ?? Promise.resolve();
    const task = previous
      .then(work)
      .catch((err) => this.#onError(key, err))
      .finally(() => {
        if (this.#tasks.get(key) === task) this.#tasks.delete(key);
      });
    this.#tasks.set(key, task);
  }

  /** Resolves when the task under `key` (if any) is done. */
  async settled(key: string): Promise<void> {
    await this.#tasks.get(key);
  }

  get size(): number {
    return this.#tasks.size;
  }

  async drain(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all(this.#tasks.values());
  }
}
