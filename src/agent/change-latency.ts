/**
 * How long changes waited from arriving (a BGP UPDATE handed to the agent) to being in the
 * kernel: the last `capacity` samples, summarised for /healthz. Pure.
 */
export interface LatencySummary {
  readonly samples: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

export class ChangeLatency {
  readonly #samples: number[] = [];
  #next = 0;
  #count = 0;
  #max = 0;

  constructor(private readonly capacity = 512) {}

  record(ms: number): void {
    this.#count++;
    if (ms > this.#max) this.#max = ms;
    if (this.#samples.length < this.capacity) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Median and p90 over the kept samples; max and count over every sample since start. */
  summary(): LatencySummary {
    const s = [...this.#samples].sort((a, b) => a - b);
    const at = (q: number) =>
      s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0);
    return {
      samples: this.#count,
      medianMs: Math.round(at(0.5)),
      p90Ms: Math.round(at(0.9)),
      maxMs: Math.round(this.#max),
    };
  }
}
