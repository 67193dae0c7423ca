/**
 * Run `start` for each item with at most `limit` running at once, in order; the first failure
 * stops new starts and is thrown once the running ones have settled (so nothing is left half
 * done behind the caller's back).
 */
export async function inWindow<T>(
  items: readonly T[],
  limit: number,
  start: (item: T, index: number) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`window must be a whole number ≥ 1, not ${limit}`);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await start(items[index] as T, index);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
}
