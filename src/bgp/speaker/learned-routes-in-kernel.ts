import type { Address, Kernel, Netns, Route } from "../../kernel/api.js";
import { applyPlan } from "../../kernel/desired/apply.js";
import { observeRoutes } from "../../kernel/desired/observe.js";
import { planRoutes } from "../../kernel/desired/plan-routes.js";
import { bgpKernelRoute, type ConnectedNetwork } from "./kernel-route.js";
import type { LearnedRouteChange } from "./speaker.js";

/** Something the kernel did not get: a route with no usable next hop, or one it refused. */
export interface RouteProblem {
  readonly prefix: string;
  readonly nextHop?: string;
  readonly reason: string;
}

export interface LearnedRoutesInKernelOptions {
  /** Only next hops on this device's networks (--route-dev); any connected network when absent. */
  readonly dev?: string;
  /** Called once when a prefix gets a problem (or a new one), not on every pass. */
  readonly onProblem?: (p: RouteProblem) => void;
  /** A pass that failed as a whole (the namespace unreadable); the next change tries again. */
  readonly onError?: (err: unknown) => void;
}

/** Connected networks: every address but host-scope ones (loopback), on `dev` when given. */
export const connectedNetworks = (addresses: readonly Address[], dev?: string): ConnectedNetwork[] =>
  addresses.filter((a) => a.scope !== "host" && (dev === undefined || a.dev === dev));

/**
 * Keeps a namespace's Strata routes (proto 147) equal to a speaker's learned routes: the learned
 * routes are a desired route set, updated by the speaker's changes; each pass plans it against
 * the routes observed in the namespace and applies the difference with the same planner the
 * agent uses. Passes never overlap and changes that arrive during one merge into the next, so a
 * withdrawal never overtakes the announcement it cancels. A route the kernel refuses is retried
 * on the next pass and never holds back the rest.
 */
export class LearnedRoutesInKernel {
  /** The speaker's learned routes now: prefix → next hop (and the device of a link-local one). */
  readonly #learned = new Map<string, { readonly nextHop: string; readonly dev?: string }>();
  readonly #reported = new Map<string, string>();
  #pass: Promise<void> | undefined;
  #again = false;
  /** Routes the last pass wanted, and ops the kernel refused so far. */
  wanted = 0;
  refused = 0;

  constructor(
    private readonly kernel: Kernel,
    private readonly ns: Netns,
    private readonly o: LearnedRoutesInKernelOptions = {},
  ) {}

  /** Take the speaker's learned-route changes and start (or queue) a pass. */
  update(changes: readonly LearnedRouteChange[]): Promise<void> {
    for (const c of changes) {
      if (c.nextHop) this.#learned.set(c.prefix, { nextHop: c.nextHop, ...(c.dev ? { dev: c.dev } : {}) });
      else this.#learned.delete(c.prefix);
    }
    return this.sync();
  }

  /** Run a pass (or queue one after the running pass); resolves when the kernel has caught up. */
  sync(): Promise<void> {
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    const run = async () => {
      try {
        do {
          this.#again = false;
          try {
            await this.#once();
          } catch (err) {
            this.o.onError?.(err);
          }
        } while (this.#again);
      } finally {
        this.#pass = undefined;
      }
    };
    this.#pass = run();
    return this.#pass;
  }

  async #once(): Promise<void> {
    const connected = connectedNetworks(await this.kernel.addresses(this.ns), this.o.dev);
    const routes: Route[] = [];
    const problems = new Map<string, RouteProblem>();
    for (const [prefix, { nextHop, dev }] of this.#learned) {
      const r = bgpKernelRoute(prefix, nextHop, connected, dev);
      if ("route" in r) routes.push(r.route);
      else problems.set(prefix, { prefix, nextHop, reason: r.reason });
    }
    const observed = await observeRoutes(this.kernel, this.ns, [4, 6]);
    const result = await applyPlan(this.kernel, this.ns, planRoutes(routes, observed));
    for (const f of result.failed) {
      if (f.op.op !== "route.replace" && f.op.op !== "route.delete") continue;
      const { dst, via } = f.op.route;
      problems.set(dst, { prefix: dst, nextHop: via, reason: f.error.message });
    }
    this.wanted = routes.length;
    this.refused += result.failed.length;
    for (const p of problems.values()) {
      if (this.#reported.get(p.prefix) === p.reason) continue;
      this.#reported.set(p.prefix, p.reason);
      this.o.onProblem?.(p);
    }
    for (const prefix of this.#reported.keys()) if (!problems.has(prefix)) this.#reported.delete(prefix);
  }
}
