import { masqueradeTable } from "../../agent/masquerade.js";
import { StrataError } from "../../common/errors.js";
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

/** A namespace's state from the cache, read (once) when absent; also used to read ahead. */
export function nsState(
  kernel: Kernel,
  ns: string,
  places: LabPlaces,
  cache: NsStateCache,
): Promise<NsState> {
  let pending = cache.get(ns);
  if (!pending) {
    pending = readNsState(kernel, ns, places);
    cache.set(ns, pending);
  }
  return pending;
}

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
            v6: Object.fromEntries([...guard.sources].map(([port, s]) => [port, s.v6])),
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
  const state = await nsState(kernel, pos.ns, places, cache);
  const ns = namedNetns(pos.ns);
  const q = routeQuery(pos, state.links);
  // The route and the table entry behind it, in one `ip -batch` (one process per step).
  const ask = async (query: RouteQuery) => {
    const argv = [routeGetArgs(query).slice(1), routeGetArgs(query, true).slice(1)];
    const r = await kernel.exec(ns, ["ip", "-j", "-force", "-batch", "-"], {
      input: `${argv.map((a) => a.join(" ")).join("\n")}\n`,
    });
    return splitBatch(r.stdout, r.stderr, argv.length);
  };
  let [got, entry] = await ask(q);
  // A packet sent from a source the sender does not own (a forged one): the output lookup refuses
  // `from` (EINVAL), while a raw socket sends it anyway; ask without it.
  if (got?.code !== 0 && q.iif === undefined && q.from) [got, entry] = await ask({ dst: q.dst });
  if (!got || !entry)
    throw new StrataError("lab.trace.facts", `ip -batch in ${pos.ns} answered too few commands`);
  return {
    ns: pos.ns,
    route: parseRouteGet(got.code, got.stdout, got.stderr),
    ...(entry.code === 0 ? { routeEntry: parseRouteEntry(entry.stdout) } : {}),
    ...state,
  };
}

/**
 * Pure: split what `ip -j -force -batch -` printed into one result per command: each command that
 * succeeds prints one line of JSON, each that fails its error and "Command failed -:LINE".
 */
export function splitBatch(
  stdout: string,
  stderr: string,
  count: number,
): { code: number; stdout: string; stderr: string }[] {
  const failed = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^Command failed -:(\d+)/.exec(line);
    if (m) {
      failed.set(Number(m[1]) - 1, pending.join("\n"));
      pending = [];
    } else if (line.trim()) pending.push(line);
  }
  const lines = stdout.split("\n").filter((l) => l.trim());
  const out: { code: number; stdout: string; stderr: string }[] = [];
  for (let i = 0; i < count; i++) {
    const err = failed.get(i);
    out.push(
      err !== undefined
        ? { code: 2, stdout: "", stderr: err }
        : { code: 0, stdout: lines.shift() ?? "[]", stderr: "" },
    );
  }
  return out;
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
