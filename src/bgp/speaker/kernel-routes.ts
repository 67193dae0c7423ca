import { strataRouteProto } from "../../agent/reconcile-plan.js";
import type { Kernel, KernelOp, Netns } from "../../kernel/api.js";
import type { LearnedRouteChange } from "./speaker.js";

/**
 * Pure: kernel ops for learned-route changes. Routes carry Strata's protocol id, so they can be told
 * from anyone else's and a withdrawal removes only what BGP put there.
 */
export function routeOps(changes: readonly LearnedRouteChange[], dev?: string): KernelOp[] {
  return changes.map((c) => {
    const family = c.prefix.includes(":") ? 6 : 4;
    return c.nextHop
      ? {
          op: "route.replace",
          route: { dst: c.prefix, via: c.nextHop, dev, proto: strataRouteProto, family },
        }
      : { op: "route.delete", route: { dst: c.prefix, proto: strataRouteProto, family }, ifPresent: true };
  });
}

/**
 * Installs a speaker's learned routes into a namespace's kernel, one batch per flush; batches
 * apply in order, so a withdrawal never overtakes the announcement it cancels.
 */
export class KernelRouteInstaller {
  #chain: Promise<void> = Promise.resolve();
  installed = 0;
  lastError: string | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly ns: Netns,
    private readonly dev?: string,
  ) {}

  apply(changes: readonly LearnedRouteChange[]): Promise<void> {
    const ops = routeOps(changes, this.dev);
    this.#chain = this.#chain.then(async () => {
      try {
        await this.kernel.apply(this.ns, ops);
        this.installed += ops.length;
      } catch {
        // One bad route (e.g. a next hop not on a connected network) must not hold back the rest.
        for (const op of ops) {
          try {
            await this.kernel.apply(this.ns, [op]);
            this.installed++;
          } catch (err) {
            this.lastError = err instanceof Error ? err.message : String(err);
          }
        }
      }
    });
    return this.#chain;
  }

  settled(): Promise<void> {
    return this.#chain;
  }
}
