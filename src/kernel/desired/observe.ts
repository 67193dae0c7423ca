import type { Kernel, Netns, Route } from "../api.js";
import type { DesiredState, ObservedState } from "./state.js";

export interface ObserveOptions {
  /** Address families whose main-table routes are read (IPv4 only when absent). */
  readonly families?: readonly (4 | 6)[];
}

/**
 * Read what the kernel has in `ns` for a desired state: only the parts it involves (a desired
 * state with routes alone costs one route read per family), and neighbours and FDB entries only
 * of its own devices that exist.
 */
export async function observe(
  kernel: Kernel,
  ns: Netns,
  desired: DesiredState,
  o: ObserveOptions = {},
): Promise<ObservedState> {
  const devices = desired.devices.map((d) => d.name);
  const needLinks = devices.length > 0;
  const links = needLinks ? await kernel.links(ns) : [];
  const present = devices.filter((d) => links.some((l) => l.name === d));
  const needAddresses = desired.addresses.length > 0;
  return {
    links,
    addresses: needAddresses ? await kernel.addresses(ns) : [],
    routes: await observeRoutes(kernel, ns, o.families ?? [4]),
    neighbours: (await Promise.all(present.map((d) => kernel.neighbours(ns, d)))).flat(),
    fdb: (await Promise.all(present.map((d) => kernel.fdb(ns, d)))).flat(),
  };
}

/** The main table's routes of the given families. */
export async function observeRoutes(
  kernel: Kernel,
  ns: Netns,
  families: readonly (4 | 6)[],
): Promise<Route[]> {
  const out: Route[] = [];
  for (const family of families) out.push(...(await kernel.routes(ns, { family })));
  return out;
}
