import type { NodeLease } from "../cluster/node-lease.js";
import type { Kernel, Netns } from "../kernel/api.js";
import type { Probe } from "./facts.js";

/**
 * The ping payload of an IP packet of SIZE bytes: SIZE − 28 for IPv4 (20 + ICMP 8), SIZE − 48 for
 * IPv6 (40 + ICMPv6 8).
 */
export const icmpHeaders = (to: string): number => (to.includes(":") ? 48 : 28);
/** The smallest packet every link carries: 68 B for IPv4 (RFC 791), 1280 B for IPv6 (RFC 8200 §5). */
export const minimumSize = (to: string): number => (to.includes(":") ? 1280 : 68);

export interface ProbeTarget {
  readonly kind: Probe["kind"];
  readonly peer: NodeLease;
  readonly to: string;
  readonly size: number;
}

/** One ping: with DF at SIZE bytes, or a small one without DF (is anything coming back at all?). */
async function ping(kernel: Kernel, ns: Netns, to: string, size: number | undefined, waitS: string) {
  const argv = [
    "ping",
    "-c",
    "1",
    "-W",
    waitS,
    "-q",
    ...(size ? ["-M", "do", "-s", String(size - icmpHeaders(to))] : []),
    to,
  ];
  return (await kernel.exec(ns, argv)).code === 0;
}

/**
 * A DF probe: full size first; when that fails, a small ping without DF says whether anything
 * comes back, and a binary search finds the largest DF packet that passes (a link on the way has
 * that MTU). Failed pings wait 0.3 s in the search: the lab's and a LAN's round trips are far
 * shorter, and a search costs at most ~10 of them.
 */
export async function probe(kernel: Kernel, ns: Netns, t: ProbeTarget): Promise<Probe> {
  const base = { kind: t.kind, peer: t.peer.node, to: t.to, size: t.size };
  if (await ping(kernel, ns, t.to, t.size, "1")) return { ...base, ok: true };
  if (!(await ping(kernel, ns, t.to, undefined, "1"))) return { ...base, ok: false, largest: 0 };
  let lo = Math.min(minimumSize(t.to), t.size - 1);
  let hi = t.size - 1;
  if (!(await ping(kernel, ns, t.to, lo, "0.3"))) return { ...base, ok: false, largest: 0 };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await ping(kernel, ns, t.to, mid, "0.3")) lo = mid;
    else hi = mid - 1;
  }
  return { ...base, ok: false, largest: lo };
}

/** Every probe of a node, run side by side. */
export const runProbes = (kernel: Kernel, ns: Netns, targets: readonly ProbeTarget[]): Promise<Probe[]> =>
  Promise.all(targets.map((t) => probe(kernel, ns, t)));
