/**
 * Starting a lab's agents a few at a time. Each agent spends most of a CPU-second loading its
 * modules; 60 of them started at once on two cores all crawl together and the first leases come
 * only after everyone has loaded (the `--nodes 60` up that timed out, issue 16). A sliding window
 * keeps the CPU busy with no more agents than it can start at once: the next agent starts the moment
 * one has leased its subnet.
 */

/** Pure: how many agents may be starting (not yet leased) at once on a machine with `cpus` cores. */
export function agentStartWindow(cpus: number): number {
  return Math.max(2, Math.min(16, 2 * Math.floor(cpus)));
}
