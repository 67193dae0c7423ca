import type { Route } from "../api.js";
import { normaliseDst, routeKey } from "./plan-routes.js";

/**
 * A desired route set kept up to date by changes (one route per destination), remembering which
 * destinations changed since the changes were last taken: a writer fed by events (BGP UPDATEs)
 * hands on what changed, and a pass costs the changes instead of the size of the set.
 */
export class DesiredRoutes {
  readonly #routes = new Map<string, Route>();
  readonly #changed = new Set<string>();

  /** Want `route` for its destination (replacing another route to it); a no-op when unchanged. */
  set(route: Route): void {
    const dst = normaliseDst(route.dst);
    const old = this.#routes.get(dst);
    if (old === route || (old && routeKey(old) === routeKey(route))) return;
    this.#routes.set(dst, route);
    this.#changed.add(dst);
  }

  /** Want no route to `dst`. */
  delete(dst: string): void {
    const key = normaliseDst(dst);
    if (this.#routes.delete(key)) this.#changed.add(key);
  }

  get(dst: string): Route | undefined {
    return this.#routes.get(normaliseDst(dst));
  }

  get size(): number {
    return this.#routes.size;
  }

  /** Every route wanted now. */
  list(): Route[] {
    return [...this.#routes.values()];
  }

  /**
   * The destinations changed since the last call, each with the route wanted now (undefined:
   * none); a destination set and deleted again in between is reported as deleted.
   */
  takeChanges(): Map<string, Route | undefined> {
    const out = new Map<string, Route | undefined>();
    for (const dst of this.#changed) out.set(dst, this.#routes.get(dst));
    this.#changed.clear();
    return out;
  }
}
