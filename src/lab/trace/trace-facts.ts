import { masqueradeTable } from "../../agent/masquerade.js";
import { type Kernel, namedNetns } from "../../kernel/api.js";
import { parseGuardTable } from "../../plugins/strata/source-guard-plan.js";
import type { LabPlaces } from "./lab-places.js";
import { parseRouteGet, type RouteQuery, routeQuery } from "./predict-step.js";
import type { NsFacts, Position, RouteEntry } from "./trace-model.js";

/** `ip route get` arguments for a query (with `fibmatch`: the table entry instead of the route). */
export function routeGetArgs(q: RouteQuery, fibmatch = false): string[] {
  return [
    ...["-j", "route", "get"],
    ...(fibmatch ? ["fibmatch"] : []),
    q.dst,
    ...(q.from ? ["from", q.from] : []),
    ...(q.iif ? ["iif", q.iif] : []),
  ];
}

/** What a namespace holds that does not depend on the packet (read once per trace). */
export type NsState = Omit<NsFacts, "ns" | "route" | "routeEntry">;

/** One trace's reads of each namespace's state, so a namespace crossed twice is read once. */
export type NsStateCache = Map<string, Promise<NsState>>;

async function readNsState(kernel: Kernel, nsName: string, places: LabPlaces): Promise<NsState> {
  const ns = namedNetns(nsName);
  const isNode = places.byNs(nsName)?.kind === "node";
  const [links, neighbours, fdb, ruleset] = await Promise.all([
    kernel.links(ns),
    kernel.neighbours(ns),
    isNode ? kernel.fdb(ns) : Promise.resolve([]),
    // One nft run for both of Strata's tables on a node: the source guard and the masquerade.
    isNode ? kernel.exec(ns, ["nft", "-j", "list", "ruleset"]).catch(() => undefined) : undefined,
  ]);
  // The vxlan devices' own FDB only (a bridge's learned entries are not needed).
  const vxlanDevs = new Set(links.filter((l) => l.kind === "vxlan").map((l) => l.name));
  const nft = ruleset?.code === 0 ? ruleset.stdout : undefined;
  const guard = nft ? parseGuardTable(nft) : undefined;
  return {
    links,
    neighbours,
    fdb: fdb.filter((e) => vxlanDevs.has(e.dev)),
    ...(guard && guard.ports.size > 0
      ? {
          guard: {
            ports: [...guard.ports],
            v4: Object.fromEntries([...guard.sources].map(([port, s]) => [port, s.v4])),
          },
        }
      : {}),
    ...(isNode ? { masquerade: nft !== undefined && hasNatTable(nft) } : {}),
  };
}

/** Pure: does an `nft -j list ruleset` hold Strata's masquerade table? */
export function hasNatTable(json: string): boolean {
  const doc = JSON.parse(json) as { nftables?: { table?: { name?: string } }[] };
  return (doc.nftables ?? []).some((i) => i.table?.name === masqueradeTable);
}

/**
 * Read what one namespace's kernel holds for the packet at `pos` (I/O): links, neighbours, FDB,
 * on nodes the source guard and the masquerade table (once per namespace); then the route the
 * kernel picks, asked with the input interface and source the packet really has.
 */
export async function gatherFacts(
  kernel: Kernel,
  pos: Position,
  places: LabPlaces,
  cache: NsStateCache = new Map(),
): Promise<NsFacts> {
  let pending = cache.get(pos.ns);
  if (!pending) {
    pending = readNsState(kernel, pos.ns, places);
    cache.set(pos.ns, pending);
  }
  const state = await pending;
  const ns = namedNetns(pos.ns);
  const q = routeQuery(pos, state.links);
  const ip = (args: string[]) => kernel.exec(ns, ["ip", ...args]);
  let [got, entry] = await Promise.all([ip(routeGetArgs(q)), ip(routeGetArgs(q, true))]);
  // A packet sent from a source the sender does not own (a forged one): the output lookup refuses
  // `from` (EINVAL), while a raw socket sends it anyway; ask without it.
  if (got.code !== 0 && q.iif === undefined && q.from) {
    const bare = { dst: q.dst };
    [got, entry] = await Promise.all([ip(routeGetArgs(bare)), ip(routeGetArgs(bare, true))]);
  }
  return {
    ns: pos.ns,
    route: parseRouteGet(got.code, got.stdout, got.stderr),
    ...(entry.code === 0 ? { routeEntry: parseRouteEntry(entry.stdout) } : {}),
    ...state,
  };
}

/** Pure: decode `ip -j route get fibmatch` (the table entry that matched). */
export function parseRouteEntry(stdout: string): RouteEntry | undefined {
  const r = (JSON.parse(stdout) as Record<string, unknown>[])[0];
  if (!r) return undefined;
  return {
    dst: String(r.dst ?? ""),
    ...(typeof r.gateway === "string" ? { gateway: r.gateway } : {}),
    ...(typeof r.dev === "string" ? { dev: r.dev } : {}),
    ...(typeof r.protocol === "string" ? { protocol: r.protocol } : {}),
  };
}
