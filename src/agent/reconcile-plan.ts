import type { DesiredState } from "../backends/api.js";
import type { Address, FdbEntry, KernelOp, Link, LinkSpec, Neighbour, Route } from "../kernel/api.js";

/**
 * Routes Strata installs carry this routing protocol id, so the agent can tell its own routes from
 * anyone else's and remove stale ones without ever flushing a table. (Values 1-4 are kernel/boot/
 * static/redirect; higher ids are free for routing daemons — BIRD uses 12, Calico 80.)
 */
export const strataRouteProto = "147";

export interface ObservedState {
  readonly links: readonly Link[];
  readonly addresses: readonly Address[];
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
}

const routeKey = (r: Route) =>
  `${normaliseDst(r.dst)}|${r.via ?? ""}|${r.dev ?? ""}|${r.onlink ? "onlink" : ""}`;
const normaliseDst = (dst: string) => (dst === "0.0.0.0/0" || dst === "::/0" ? "default" : dst);

function deviceMatches(spec: LinkSpec, link: Link): boolean {
  if (spec.kind !== "vxlan") return link.kind === spec.kind;
  return (
    link.kind === "vxlan" &&
    link.vxlan?.vni === spec.vni &&
    link.vxlan?.port === spec.port &&
    (spec.local === undefined || link.vxlan?.local === spec.local) &&
    link.vxlan?.learning === spec.learning
  );
}

/**
 * Pure: the kernel ops that turn `observed` into `desired`. Only state the backend owns is
 * touched: its devices, entries on those devices, and routes tagged with strataRouteProto.
 */
export function planReconcile(desired: DesiredState, observed: ObservedState): KernelOp[] {
  const ops: KernelOp[] = [];
  const owned = new Set(desired.devices.map((d) => d.name));
  for (const spec of desired.devices) {
    const link = observed.links.find((l) => l.name === spec.name);
    if (link && !deviceMatches(spec, link)) {
      // A device with other identity (VNI, port, local address) cannot be edited in place.
      ops.push({ op: "link.delete", name: spec.name, ifPresent: true });
    }
    if (!link || !deviceMatches(spec, link)) {
      ops.push({ op: "link.add", spec, ifAbsent: true });
      ops.push({ op: "link.set", name: spec.name, up: true });
      continue;
    }
    if (spec.mtu !== undefined && link.mtu !== spec.mtu)
      ops.push({ op: "link.set", name: spec.name, mtu: spec.mtu });
    if (!link.up) ops.push({ op: "link.set", name: spec.name, up: true });
  }
  for (const [dev, cidr] of desired.addresses) {
    if (!observed.addresses.some((a) => a.dev === dev && a.cidr === cidr)) {
      ops.push({ op: "addr.add", dev, cidr, ifAbsent: true });
    }
  }
  // Neighbours and FDB before routes: a route via a VTEP must find its neighbour ready.
  for (const n of desired.neighbours) {
    const have = observed.neighbours.find((x) => x.dev === n.dev && x.ip === n.ip);
    if (!have || have.mac?.toLowerCase() !== n.mac?.toLowerCase() || have.state !== "PERMANENT") {
      ops.push({ op: "neigh.replace", dev: n.dev, ip: n.ip, mac: n.mac ?? "", permanent: true });
    }
  }
  for (const n of observed.neighbours) {
    if (!owned.has(n.dev) || n.state !== "PERMANENT") continue;
    if (!desired.neighbours.some((x) => x.dev === n.dev && x.ip === n.ip)) {
      ops.push({ op: "neigh.delete", dev: n.dev, ip: n.ip, ifPresent: true });
    }
  }
  const fdbKey = (e: FdbEntry) => `${e.dev}|${e.mac.toLowerCase()}|${e.dst ?? ""}`;
  const haveFdb = new Set(observed.fdb.map(fdbKey));
  const wantFdb = new Set(desired.fdb.map(fdbKey));
  for (const e of desired.fdb) if (!haveFdb.has(fdbKey(e))) ops.push({ op: "fdb.append", entry: e });
  for (const e of observed.fdb) {
    if (owned.has(e.dev) && e.dst && !wantFdb.has(fdbKey(e)))
      ops.push({ op: "fdb.delete", entry: e, ifPresent: true });
  }
  const haveRoutes = new Set(observed.routes.map(routeKey));
  const wantRoutes = new Set(desired.routes.map(routeKey));
  for (const r of desired.routes) {
    if (!haveRoutes.has(routeKey(r)))
      ops.push({ op: "route.replace", route: { ...r, proto: strataRouteProto } });
  }
  // `route replace` overwrites the route to the same destination in place (a peer that moved to
  // a new address): deleting the old one as well would only fail as "not found" afterwards.
  const replacedDst = new Set(desired.routes.map((r) => normaliseDst(r.dst)));
  for (const r of observed.routes) {
    if (
      r.proto === strataRouteProto &&
      !wantRoutes.has(routeKey(r)) &&
      !replacedDst.has(normaliseDst(r.dst))
    ) {
      ops.push({ op: "route.delete", route: r, ifPresent: true });
    }
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
