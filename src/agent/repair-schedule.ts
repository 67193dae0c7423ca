/**
 * When the agent's periodic repair runs, and how much of the kernel it reads (pure).
 *
 * Every `routesMs` (± `jitter`), the routes it installed are read back and any missing one is put
 * back (`--resync-interval`: one route read, one `ip` process). Every `fullMs` at most, the whole
 * desired state (devices, addresses, neighbours, FDB, routes) is diffed against the kernel instead
 * (`--full-resync-interval`: five reads). A lab of 100 agents that all read everything every 10 s
 * spent ~13–18 ms of CPU per agent per second idle, most of it on those reads (bench/README.md,
 * "Where a lab's CPU goes"); the jitter keeps agents started together from reading together.
 */
export interface RepairSchedule {
  readonly routesMs: number;
  readonly fullMs: number;
  /** 0.2: each wait is drawn from [0.8, 1.2] × routesMs. */
  readonly jitter: number;
}

/** The wait before the next repair tick: `routesMs` spread by ± jitter (`random` in [0, 1)). */
export function nextRepairDelay(s: RepairSchedule, random: number): number {
  const spread = 1 + s.jitter * (2 * random - 1);
  return Math.max(1, Math.round(s.routesMs * spread));
}

/** What a repair tick reads: everything once `fullMs` has passed since the last full pass. */
export function repairKind(s: RepairSchedule, sinceFullPassMs: number): "full" | "routes" {
  return sinceFullPassMs >= s.fullMs ? "full" : "routes";
}
