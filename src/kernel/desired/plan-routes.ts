import type { KernelOp, Route } from "../api.js";
import { strataRouteProto } from "./route-proto.js";

/** "default" and 0.0.0.0/0 (or ::/0) name the same destination. */
export const normaliseDst = (dst: string) => (dst === "0.0.0.0/0" || dst === "::/0" ? "default" : dst);

/** What makes two routes the same route for the planner: destination, next hop, device, on-link. */
export const routeKey = (r: Route) =>
  `${normaliseDst(r.dst)}|${r.via ?? ""}|${r.dev ?? ""}|${r.onlink ? "onlink" : ""}`;

const familyOf = (dst: string): 4 | 6 => (dst.includes(":") ? 6 : 4);

/**
 * Pure: the route ops that turn `observed` into `desired`. Desired routes are installed tagged
 * with strataRouteProto; only observed routes with that tag are ever removed (someone else's
 * route is never touched, and nothing is flushed).
 */
export function planRoutes(desired: readonly Route[], observed: readonly Route[]): KernelOp[] {
  const ops: KernelOp[] = [];
  const haveRoutes = new Set(observed.map(routeKey));
  const wantRoutes = new Set(desired.map(routeKey));
  for (const r of desired) {
    if (!haveRoutes.has(routeKey(r)))
      ops.push({ op: "route.replace", route: { ...r, proto: strataRouteProto } });
  }
  // `route replace` overwrites the route to the same destination in place (a peer that moved to
  // a new address): deleting the old one as well would only fail as "not found" afterwards.
  const replacedDst = new Set(desired.map((r) => normaliseDst(r.dst)));
  for (const r of observed) {
    if (r.proto === strataRouteProto && !wantRoutes.has(routeKey(r)) && !replacedDst.has(normaliseDst(r.dst)))
      ops.push({ op: "route.delete", route: r, ifPresent: true });
  }
  return ops;
}

/**
 * Pure: the route ops for a set of changed destinations alone (the desired route now, or
 * undefined when there is none), without reading the kernel: a pass that costs the changes. A
 * removal names strataRouteProto, so the kernel deletes the route only if it is Strata's.
 */
export function planRouteChanges(changes: ReadonlyMap<string, Route | undefined>): KernelOp[] {
  const ops: KernelOp[] = [];
  for (const [dst, r] of changes) {
    if (r) ops.push({ op: "route.replace", route: { ...r, proto: strataRouteProto } });
    else
      ops.push({
        op: "route.delete",
        route: { dst, proto: strataRouteProto, family: familyOf(dst) },
        ifPresent: true,
      });
  }
  return ops;
}

/**
 * Pure: the desired routes the kernel does not have (someone deleted one, or a pass failed
 * half-way): what /healthz reports until the next repair pass puts them back.
 */
export function missingRoutes(desired: readonly Route[], observed: readonly Route[]): Route[] {
  const have = new Set(observed.map(routeKey));
  return desired.filter((r) => !have.has(routeKey(r)));
}
