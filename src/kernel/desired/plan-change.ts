import type { KernelOp } from "../api.js";
import { fdbKey } from "./plan.js";
import { planRoutes } from "./plan-routes.js";
import { strataRouteProto } from "./route-proto.js";
import type { DesiredState } from "./state.js";

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const neighbourKey = (n: { dev: string; ip: string }) => `${n.dev}|${n.ip}`;

/**
 * Pure: the kernel ops that take the kernel from `applied` (a desired state a pass made true) to
 * `next`, without reading it: the ops planReconcile would plan if the kernel still held exactly
 * `applied`. What a lease change costs a node (one peer more: a neighbour, an FDB entry, a route)
 * instead of a read of every route, neighbour and FDB entry. Undefined when devices or addresses
 * differ (those need the kernel's view: identity, MTU, state). Drift (someone deleted a route) is
 * not seen here: the periodic full pass repairs it.
 */
export function planDesiredChange(applied: DesiredState, next: DesiredState): KernelOp[] | undefined {
  if (!sameJson(applied.devices, next.devices) || !sameJson(applied.addresses, next.addresses))
    return undefined;
  const ops: KernelOp[] = [];
  // Neighbours and FDB before routes, as planReconcile: a route via a VTEP finds its neighbour.
  const had = new Map(applied.neighbours.map((n) => [neighbourKey(n), n]));
  const wanted = new Set(next.neighbours.map(neighbourKey));
  for (const n of next.neighbours) {
    const before = had.get(neighbourKey(n));
    if (!before || before.mac?.toLowerCase() !== n.mac?.toLowerCase())
      ops.push({ op: "neigh.replace", dev: n.dev, ip: n.ip, mac: n.mac ?? "", permanent: true });
  }
  for (const n of applied.neighbours)
    if (!wanted.has(neighbourKey(n))) ops.push({ op: "neigh.delete", dev: n.dev, ip: n.ip, ifPresent: true });
  const hadFdb = new Set(applied.fdb.map(fdbKey));
  const wantFdb = new Set(next.fdb.map(fdbKey));
  for (const e of next.fdb) if (!hadFdb.has(fdbKey(e))) ops.push({ op: "fdb.append", entry: e });
  for (const e of applied.fdb)
    if (e.dst && !wantFdb.has(fdbKey(e))) ops.push({ op: "fdb.delete", entry: e, ifPresent: true });
  const appliedRoutes = applied.routes.map((r) => ({ ...r, proto: strataRouteProto }));
  ops.push(...planRoutes(next.routes, appliedRoutes));
  return ops;
}
