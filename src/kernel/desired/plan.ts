import type { FdbEntry, KernelOp } from "../api.js";
import { linkMatchesSpec } from "../link-identity.js";
import { planRoutes } from "./plan-routes.js";
import type { DesiredState, ObservedState } from "./state.js";

/** An FDB entry's identity for both planners (device, MAC in any case, remote VTEP). */
export const fdbKey = (e: FdbEntry) => `${e.dev}|${e.mac.toLowerCase()}|${e.dst ?? ""}`;

/**
 * Pure: the kernel ops that turn `observed` into `desired`. Only state the writer owns is
 * touched: its devices, entries on those devices, and routes tagged with strataRouteProto.
 */
export function planReconcile(desired: DesiredState, observed: ObservedState): KernelOp[] {
  const ops: KernelOp[] = [];
  const owned = new Set(desired.devices.map((d) => d.name));
  for (const spec of desired.devices) {
    const link = observed.links.find((l) => l.name === spec.name);
    const same = link !== undefined && linkMatchesSpec(spec, link);
    if (link && !same) {
      // A device of another kind or identity (VNI, port, local address) cannot be edited in place.
      ops.push({ op: "link.delete", name: spec.name, ifPresent: true });
    }
    if (!link || !same) {
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
  const haveFdb = new Set(observed.fdb.map(fdbKey));
  const wantFdb = new Set(desired.fdb.map(fdbKey));
  for (const e of desired.fdb) if (!haveFdb.has(fdbKey(e))) ops.push({ op: "fdb.append", entry: e });
  for (const e of observed.fdb) {
    if (owned.has(e.dev) && e.dst && !wantFdb.has(fdbKey(e)))
      ops.push({ op: "fdb.delete", entry: e, ifPresent: true });
  }
  ops.push(...planRoutes(desired.routes, observed.routes));
  return ops;
}
