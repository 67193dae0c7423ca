/**
 * Times steps that run one after another: `mark(name)` records the milliseconds since the previous
 * mark (or since the clock was made). The agent keeps its start's steps in /healthz, so a slow
 * start says where it went (issue 16: in a busy agent host, reading the underlay waited 12 s).
 */
export class PhaseClock {
  readonly phases: Record<string, number> = {};
  #last: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.#last = now();
  }

  mark(name: string): void {
    const t = this.now();
    this.phases[name] = Math.round(t - this.#last);
    this.#last = t;
  }
}
