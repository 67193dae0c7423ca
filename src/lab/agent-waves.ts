/**
 * Starting a lab's agents a window at a time. Each agent spends most of a CPU-second loading its
 * modules; 60 of them started at once on two cores all crawl together and the first leases come
 * only after everyone has loaded (the `--nodes 60` up that timed out, issue 16). A sliding window
 * bounds how many are starting: the next agent starts the moment one has leased its subnet, and
 * each agent's lease deadline runs from its own start.
 *
 * The window is 8 per core, not 1 or 2: from spawn to lease an agent waits as much as it computes
 * (~2.6 s for ~0.8 CPU-s on the shared 2-core machine: process spawns, `ip` batches, datastore
 * round trips), so a narrow window leaves the CPU idle. 20 vxlan agents started 4 at a time took
 * 27.6 s, 16 at a time 17.7 s, all 20 at once 13.6 s (bench/README.md, "The lab at cluster scale").
 */

/** Pure: how many agents may be starting (not yet leased) at once on a machine with `cpus` cores. */
export function agentStartWindow(cpus: number): number {
  return Math.max(4, Math.min(32, 8 * Math.floor(cpus)));
}
