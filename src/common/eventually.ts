import { StrataError } from "./errors.js";

/**
 * Poll `cond` until it holds. A condition that throws counts as "not yet" (the thing it reads may
 * not exist yet); after `timeoutMs` the last error, if any, is attached as the cause.
 */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new StrataError("timeout", `timed out waiting for ${what}`, { cause: lastError });
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
