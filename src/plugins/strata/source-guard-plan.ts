/**
 * Anti-spoofing for pod veths, as plain nftables text (pure: no I/O; source-guard.ts runs it).
 *
 * One table per family, owned by Strata, in the node's network namespace:
 * - bridge mode: `bridge strata-antispoof`. A pod's frames enter through its veth, a bridge port,
 *   so only the bridge family's prerouting still sees the veth as the input interface (the inet
 *   family sees the bridge). It also covers pod-to-pod traffic on the same bridge, and ARP.
 * - routed mode: `inet strata-antispoof`; the host veth is the input interface of the IP stack.
 *
 * Each family's table holds a set of guarded ports (host veths) and `ifname . address` sets of
 * what each port may send from. A frame from a guarded port whose source is not its own is
 * dropped and counted in a named counter (one per kind). The rules are the same for every pod, so
 * an ADD only adds set elements; a process writes the rules once (flush + re-add in the same
 * transaction, so the table is never without them and re-applying is harmless).
 */

export type GuardFamily = "bridge" | "inet";

export const sourceGuardTable = "strata-antispoof";

/** What one pod may send from: its host veth and its IPAM addresses (bare, no prefix length). */
export interface PortSources {
  readonly port: string;
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** Drop counters, by kind. `arp` and `other` (neither IP nor ARP) exist in bridge mode only. */
export const spoofCounterKinds = ["ipv4", "ipv6", "arp", "other"] as const;
export type SpoofCounterKind = (typeof spoofCounterKinds)[number];
export type SpoofCounts = Readonly<Record<SpoofCounterKind, number>>;

const counterName = (kind: SpoofCounterKind) => `spoofed_${kind}`;

export const guardFamily = (mode: "bridge" | "routed"): GuardFamily =>
  mode === "bridge" ? "bridge" : "inet";

/** Split IPAM results (`10.1.0.5/24`) into bare v4 and v6 addresses. */
export function portSources(port: string, cidrs: readonly string[]): PortSources {
  const bare = cidrs.map((c) => c.split("/")[0] ?? c);
  return { port, v4: bare.filter((a) => !a.includes(":")), v6: bare.filter((a) => a.includes(":")) };
}

/**
 * The rules every pod shares. IPv6 also allows what a pod needs before or beside its address:
 * link-local sources (NDP, router solicitation; the kernel never forwards them off the link) and
 * the unspecified source of duplicate address detection and early MLD reports (RFC 4862 §5.4.2,
 * RFC 3810 §5.2.13). Bridge mode binds ARP's sender address like the IP source (a pod cannot
 * claim a neighbour's address in anyone's neighbour table), allows ARP probes (sender 0.0.0.0,
 * RFC 5227), and drops every other ethertype: a pod network carries IP only.
 */
export function guardTableScript(family: GuardFamily): string[] {
  const t = `${family} ${sourceGuardTable}`;
  const kinds: readonly SpoofCounterKind[] = family === "bridge" ? spoofCounterKinds : ["ipv4", "ipv6"];
  const ipv4 = family === "bridge" ? "ether type ip " : "meta nfproto ipv4 ";
  const ipv6 = family === "bridge" ? "ether type ip6 " : "meta nfproto ipv6 ";
  const lines = [
    `add table ${t}`,
    `add set ${t} ports { type ifname; }`,
    `add set ${t} v4 { type ifname . ipv4_addr; }`,
    `add set ${t} v6 { type ifname . ipv6_addr; }`,
    // Named counters live outside the rules: re-writing the rules keeps the counts.
    ...kinds.map((k) => `add counter ${t} ${counterName(k)}`),
    // Priority -300: before conntrack, so a spoofed packet never creates a connection entry.
    `add chain ${t} prerouting { type filter hook prerouting priority -300; policy accept; }`,
    `add chain ${t} guard`,
    `flush chain ${t} prerouting`,
    `flush chain ${t} guard`,
    `add rule ${t} prerouting iifname @ports jump guard`,
    `add rule ${t} guard ${ipv4}iifname . ip saddr @v4 accept`,
    `add rule ${t} guard ${ipv4}counter name ${counterName("ipv4")} drop`,
    `add rule ${t} guard ${ipv6}ip6 saddr fe80::/10 accept`,
    `add rule ${t} guard ${ipv6}iifname . ip6 saddr @v6 accept`,
    `add rule ${t} guard ${ipv6}ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } accept`,
    `add rule ${t} guard ${ipv6}counter name ${counterName("ipv6")} drop`,
  ];
  if (family === "bridge") {
    lines.push(
      `add rule ${t} guard ether type arp arp saddr ip 0.0.0.0 accept`,
      `add rule ${t} guard ether type arp iifname . arp saddr ip @v4 accept`,
      `add rule ${t} guard ether type arp counter name ${counterName("arp")} drop`,
      `add rule ${t} guard counter name ${counterName("other")} drop`,
    );
  }
  return lines;
}

const quote = (port: string) => `"${port}"`;

function elementLines(verb: "add" | "delete", family: GuardFamily, s: PortSources): string[] {
  const t = `${family} ${sourceGuardTable}`;
  // One `nft -f` is one transaction: packets see all of these lines or none of them.
  return [
    `${verb} element ${t} ports { ${quote(s.port)} }`,
    ...s.v4.map((a) => `${verb} element ${t} v4 { ${quote(s.port)} . ${a} }`),
    ...s.v6.map((a) => `${verb} element ${t} v6 { ${quote(s.port)} . ${a} }`),
  ];
}

/** Allow a pod's sources and guard its port (idempotent: `add element` of a present one is a no-op). */
export function allowScript(family: GuardFamily, s: PortSources): string[] {
  return elementLines("add", family, s);
}

/**
 * Remove a port and its sources, idempotently: nft 1.0.6 has no `destroy`, so each element is
 * added, then deleted, in the same transaction (deleting an absent element would fail it).
 */
export function forgetScript(family: GuardFamily, s: PortSources): string[] {
  return [...elementLines("add", family, s), ...elementLines("delete", family, s)];
}

/** What `nft -j list table` says is in a guard table. */
export interface GuardTableState {
  readonly ports: ReadonlySet<string>;
  /** Port -> its allowed sources. */
  readonly sources: ReadonlyMap<string, PortSources>;
  readonly counts: SpoofCounts;
}

type NftJson = { nftables?: readonly Record<string, unknown>[] };
type NftSet = { name?: string; table?: string; elem?: readonly unknown[] };
type NftCounter = { name?: string; table?: string; packets?: number };

/** Decode `nft -j list table <family> strata-antispoof` (or `nft -j list counters`). */
export function parseGuardTable(json: string): GuardTableState {
  const doc = (json.trim() ? JSON.parse(json) : {}) as NftJson;
  const ports = new Set<string>();
  const sources = new Map<string, { port: string; v4: string[]; v6: string[] }>();
  const counts: Record<SpoofCounterKind, number> = { ipv4: 0, ipv6: 0, arp: 0, other: 0 };
  const entry = (port: string) => {
    let e = sources.get(port);
    if (!e) {
      e = { port, v4: [], v6: [] };
      sources.set(port, e);
    }
    return e;
  };
  for (const item of doc.nftables ?? []) {
    const set = item.set as NftSet | undefined;
    if (set && set.table === sourceGuardTable) {
      for (const el of set.elem ?? []) {
        const concat = (el as { concat?: unknown[] }).concat;
        if (set.name === "ports" && typeof el === "string") ports.add(el);
        else if ((set.name === "v4" || set.name === "v6") && Array.isArray(concat)) {
          const [port, addr] = concat as [string, string];
          entry(port)[set.name].push(addr);
        }
      }
    }
    const counter = item.counter as NftCounter | undefined;
    if (counter && counter.table === sourceGuardTable) {
      const kind = spoofCounterKinds.find((k) => counterName(k) === counter.name);
      if (kind) counts[kind] += counter.packets ?? 0;
    }
  }
  return { ports, sources, counts };
}

/** Everything in the table that belongs to `port` (its ports entry and its sources). */
export function sourcesOf(state: GuardTableState, port: string): PortSources | undefined {
  const s = state.sources.get(port);
  if (!s && !state.ports.has(port)) return undefined;
  return s ?? { port, v4: [], v6: [] };
}
