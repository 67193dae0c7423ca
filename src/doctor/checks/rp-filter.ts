import { isIpv6OnlyLease } from "../../cluster/node-lease.js";
import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import { firstHost, peerLeases, peerName } from "./model.js";
import { expectedDevice } from "./paths.js";

const modes = ["off", "strict", "loose"] as const;

/** The kernel uses the larger of conf/all and conf/<dev> (Documentation/networking/ip-sysctl). */
export const effectiveRpFilter = (f: NodeFacts, dev: string): number =>
  Math.max(f.kernel.rpFilter.all ?? 0, f.kernel.rpFilter[dev] ?? 0);

/**
 * Pure: would reverse-path filtering drop a peer's pod traffic? Packets from a peer's pods arrive
 * on the device the model delivers them on; strict mode (1) drops them when the route back to
 * their source leaves by another device (an asymmetric path), loose mode (2) when there is no
 * route back at all.
 */
export function checkRpFilter(f: NodeFacts): Verdict[] {
  if (!f.cluster) return [skipped("rp_filter", f.node, "peers unknown (give --datastore as the agent has)")];
  const out: Verdict[] = [];
  // rp_filter is an IPv4 setting (net.ipv4.conf.*): IPv6 pod traffic (an IPv6-only peer) passes it.
  for (const p of peerLeases(f).filter((l) => !isIpv6OnlyLease(l))) {
    const arrives = expectedDevice(f, p) ?? f.underlayDev;
    const mode = effectiveRpFilter(f, arrives);
    if (mode === 0) continue;
    const src = firstHost(p.subnet);
    const back = f.kernel.lookups.find((l) => l.dst === src);
    const drops = mode === 1 ? back?.dev !== arrives : back?.dev === undefined;
    if (!drops) continue;
    const all = f.kernel.rpFilter.all ?? 0;
    const setting = all >= mode ? "net.ipv4.conf.all.rp_filter" : `net.ipv4.conf.${arrives}.rp_filter`;
    out.push(
      problem(
        "rp_filter",
        f.node,
        "rp-filter-drop",
        `rp_filter ${mode} (${modes[mode]}) on ${arrives} drops ${peerName(p)}'s pod traffic: it arrives on ${arrives}, the route back to ${p.subnet} ${back?.dev ? `leaves by ${back.dev}` : "does not exist"}`,
        `${setting}=${mode === 1 ? 2 : 0}${mode === 1 ? " (loose)" : ""}, or make the route back to ${p.subnet} use ${arrives}`,
        p.node,
      ),
    );
  }
  if (out.length === 0) {
    const devs = Object.entries(f.kernel.rpFilter)
      .map(([d, v]) => `${d} ${v}`)
      .join(", ");
    out.push(ok("rp_filter", f.node, `rp_filter passes every peer's pod traffic (${devs})`));
  }
  return out;
}
