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

/**
 * Run `start` for each item with at most `limit` running at once, in order; the first failure
 * stops new starts and is thrown once the running ones have settled (so nothing is left half
 * recorded).
 */
export async function inWindow<T>(
  items: readonly T[],
  limit: number,
  start: (item: T) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`window must be a whole number ≥ 1, not ${limit}`);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await start(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
}
