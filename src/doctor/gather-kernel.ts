import { release } from "node:os";
import type { Kernel, Netns } from "../kernel/api.js";
import { observeRoutes } from "../kernel/desired/observe.js";
import type { KernelFacts, RouteLookup } from "./facts.js";

/** Pure: `ethtool -k DEV` output → feature → on ("tx-checksum-ip-generic: on [fixed]"). */
export function parseEthtoolFeatures(text: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([a-z0-9-]+):\s+(on|off)\b/.exec(line);
    if (m?.[1]) out[m[1]] = m[2] === "on";
  }
  return out;
}

/** Pure: `ip -j route get ADDR` → the device and gateway chosen, or the error when there is no route. */
export function parseRouteGet(dst: string, code: number, stdout: string, stderr: string): RouteLookup {
  if (code !== 0) return { dst, error: stderr.trim().replace(/^RTNETLINK answers: /, "") || `exit ${code}` };
  try {
    const [r] = JSON.parse(stdout) as { dev?: string; gateway?: string; type?: string }[];
    if (!r || r.type === "unreachable" || r.type === "blackhole" || r.type === "prohibit")
      return { dst, error: r?.type ?? "no route" };
    return { dst, dev: r.dev, via: r.gateway };
  } catch {
    return { dst, error: `unreadable: ${stdout.slice(0, 80)}` };
  }
}

/**
 * The kernel state of one namespace that the checks read: links, IPv4 and global IPv6 addresses, routes, the
 * VXLAN device's neighbours and FDB, rp_filter of `all` and the devices traffic arrives on, the
 * route chosen for each address in `lookups`, and the offload settings of the VXLAN device.
 */
export async function gatherKernel(
  kernel: Kernel,
  ns: Netns,
  underlayDev: string,
  lookups: readonly string[],
  /** Route families to read: IPv6 too on a dual-stack node, IPv6 alone on an IPv6-only one. */
  families: readonly (4 | 6)[] = [4],
): Promise<KernelFacts> {
  const [links, addresses, routes] = await Promise.all([
    kernel.links(ns),
    kernel.addresses(ns),
    observeRoutes(kernel, ns, families),
  ]);
  const vxlan = links.find((l) => l.kind === "vxlan");
  const devs = ["all", underlayDev, ...(vxlan ? [vxlan.name] : [])];
  // Everything below is independent: read side by side (each is a process or two).
  const [neighbours, fdb, rpValues, routeGets, offloadRead] = await Promise.all([
    vxlan ? kernel.neighbours(ns, vxlan.name) : [],
    vxlan ? kernel.fdb(ns, vxlan.name) : [],
    Promise.all(
      devs.map((dev) => kernel.sysctl(ns, `net/ipv4/conf/${dev}/rp_filter`).catch(() => undefined)),
    ),
    Promise.all(
      lookups.map(async (dst) => {
        const r = await kernel.exec(ns, ["ip", "-j", dst.includes(":") ? "-6" : "-4", "route", "get", dst]);
        return parseRouteGet(dst, r.code, r.stdout, r.stderr);
      }),
    ),
    vxlan
      ? kernel
          .exec(ns, ["ethtool", "-k", vxlan.name])
          .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }))
      : undefined,
  ]);
  const rpFilter: Record<string, number> = {};
  devs.forEach((dev, i) => {
    const v = rpValues[i];
    if (v !== undefined) rpFilter[dev] = Number(v);
  });
  let offload: Record<string, Record<string, boolean>> | undefined;
  let offloadError: string | undefined;
  if (vxlan && offloadRead) {
    if (offloadRead.code === 0) offload = { [vxlan.name]: parseEthtoolFeatures(offloadRead.stdout) };
    else
      offloadError = offloadRead.stderr.trim() || `ethtool exit ${offloadRead.code} (is ethtool installed?)`;
  }
  return {
    release: release(),
    links,
    // IPv4 and global IPv6 (an IPv6-only node's underlay and BGP addresses are IPv6).
    addresses: addresses.filter((a) => a.family === 4 || !/^fe[89ab][0-9a-f]:/i.test(a.cidr)),
    routes,
    neighbours,
    fdb,
    rpFilter,
    lookups: routeGets,
    offload,
    offloadError,
  };
}
