/**
 * Pure: the helper's peer table and the commands that bring it to the wanted peers. The table is
 * keyed by the peer's node address (the outer source the helper checks); a peer whose pod CIDR or
 * port changed is one `peer` command (the helper replaces the entry in place).
 */
import { isIpv4 } from "../../common/cidr.js";
import type { SleevePeer } from "./api.js";
import { SleeveError } from "./errors.js";

/** What the helper holds for one peer: node address → its pod CIDR and port. */
export type SleevePeerTable = ReadonlyMap<string, { readonly podCidr: string; readonly port: number }>;

export interface SleevePeerPlan {
  /** Control lines for the helper, in order (removals first: a moved CIDR never overlaps itself). */
  readonly commands: readonly string[];
  readonly table: SleevePeerTable;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

/** Throws SleeveError("invalid-peers") naming the first bad peer: IPv4 only, one entry per node address. */
export function validateSleevePeers(peers: readonly SleevePeer[]): void {
  const seen = new Map<string, string>();
  for (const p of peers) {
    const bad = (why: string) => {
      throw new SleeveError("invalid-peers", `peer ${p.node}: ${why}`);
    };
    if (!isIpv4(p.nodeIp)) bad(`node address "${p.nodeIp}" is not IPv4 (sleeve carries IPv4 only)`);
    const [addr, prefix] = p.podCidr.split("/");
    if (!addr || !isIpv4(addr) || !/^\d{1,2}$/.test(prefix ?? "") || Number(prefix) > 32)
      bad(`pod CIDR "${p.podCidr}" is not an IPv4 CIDR`);
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) bad(`port ${p.port} is not 1 to 65535`);
    const other = seen.get(p.nodeIp);
    if (other) bad(`node address ${p.nodeIp} is also ${other}'s: the outer source would not say who sent`);
    seen.set(p.nodeIp, p.node);
  }
}

export function planSleevePeers(current: SleevePeerTable, wanted: readonly SleevePeer[]): SleevePeerPlan {
  validateSleevePeers(wanted);
  const table = new Map(wanted.map((p) => [p.nodeIp, { podCidr: p.podCidr, port: p.port }]));
  const removals = [...current.keys()].filter((ip) => !table.has(ip)).map((ip) => `unpeer ${ip}`);
  let added = 0;
  let changed = 0;
  const updates: string[] = [];
  for (const [ip, want] of table) {
    const have = current.get(ip);
    if (have && have.podCidr === want.podCidr && have.port === want.port) continue;
    if (have) changed++;
    else added++;
    updates.push(`peer ${ip} ${want.podCidr} ${want.port}`);
  }
  return { commands: [...removals, ...updates], table, added, removed: removals.length, changed };
}
