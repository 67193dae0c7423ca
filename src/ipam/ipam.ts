import ipaddr from "ipaddr.js";
import { CniError, CniErrorCode } from "../cni/errors.js";
import type { CniDns, CniIpConfig, CniRoute } from "../cni/result.js";
import { formatIp, parseIp } from "./address.js";
import { candidates, rangeOf } from "./allocator.js";
import type { IpamConfig, IpRange } from "./config.js";
import { isCompleteRecord, type Owner, ownershipOf } from "./reservation.js";
import type { Reservation, ReservationStore } from "./store.js";

export type { Owner } from "./reservation.js";

export interface Allocation {
  readonly ips: CniIpConfig[];
  readonly routes: CniRoute[];
  readonly dns?: CniDns;
}

const ipConfig = (ip: string, range: IpRange): CniIpConfig => ({
  address: `${ip}/${range.prefix}`,
  gateway: formatIp(range.gateway),
});

/**
 * Reserve one address per range set for `owner`. Idempotent: an owner that already holds an
 * address in a range set gets that one back. `requested` are static IPs (runtimeConfig `ips`
 * capability or CNI_ARGS IP=), each of which must fall in one of the range sets.
 */
export async function allocate(
  config: IpamConfig,
  store: ReservationStore,
  owner: Owner,
  requested: readonly string[] = [],
): Promise<Allocation> {
  // Idempotent ADD: what this owner already holds (through its index, no scan).
  const held = await ownedAddresses(store, owner);
  const wanted = requested.map((text) => {
    const addr = text.split("/")[0] ?? text;
    if (!ipaddr.isValid(addr)) {
      throw new CniError(
        CniErrorCode.InvalidNetworkConfig,
        `requested IP "${text}" is not an address`,
        "pass addresses like 10.22.0.5",
      );
    }
    return parseIp(addr);
  });
  const ips: CniIpConfig[] = [];
  const taken: string[] = [];
  /** Record the intent before reserving, so the owner index always covers what the owner holds. */
  let indexed: readonly string[] | undefined;
  const writeIndex = async (ips: readonly string[]) => {
    if (indexed && indexed.join() === ips.join()) return;
    await store.writeIndex(owner, ips);
    indexed = ips;
  };
  const reserve = async (ip: string, index: number) => {
    await writeIndex([...held.map((h) => h.ip), ...taken, ip]);
    return store.reserve(ip, owner, index);
  };
  try {
    for (const [index, set] of config.rangeSets.entries()) {
      const mine = held.find((r) => rangeOf(set, parseIp(r.ip)));
      if (mine) {
        ips.push(ipConfig(mine.ip, rangeOf(set, parseIp(mine.ip)) as IpRange));
        continue;
      }
      const request = wanted.find((w) => rangeOf(set, w));
      if (request) {
        const ip = formatIp(request);
        if (!(await reserve(ip, index))) {
          throw new CniError(
            CniErrorCode.AddressPoolExhausted,
            `requested IP ${ip} is already in use`,
            "request a free address or none",
          );
        }
        taken.push(ip);
        ips.push(ipConfig(ip, rangeOf(set, request) as IpRange));
        continue;
      }
      const last = await store.lastReserved(index);
      let got: { ip: string; range: IpRange } | undefined;
      for (const c of candidates(set, last ? parseIp(last) : undefined)) {
        if (await reserve(c.ip, index)) {
          got = c;
          break;
        }
      }
      if (!got) {
        throw new CniError(
          CniErrorCode.AddressPoolExhausted,
          `no free address in range set ${index} (${set.map((r) => r.subnet).join(", ")})`,
          "widen the range (rangeStart/rangeEnd or a larger subnet), or delete pods / run GC to release leaked addresses",
        );
      }
      taken.push(got.ip);
      ips.push(ipConfig(got.ip, got.range));
    }
    for (const w of wanted) {
      if (!config.rangeSets.some((set) => rangeOf(set, w))) {
        throw new CniError(
          CniErrorCode.InvalidNetworkConfig,
          `requested IP ${formatIp(w)} is in no configured range`,
          "request an address inside ipam.ranges",
        );
      }
    }
  } catch (err) {
    // ADD undoes itself: addresses reserved by this call go back.
    for (const ip of taken) await store.remove(ip);
    await writeIndex(held.map((h) => h.ip));
    throw err;
  }
  await writeIndex([...held.map((h) => h.ip), ...taken]);
  return { ips, routes: config.routes.map((r) => ({ ...r })), ...(config.dns ? { dns: config.dns } : {}) };
}

/**
 * Release every address the owner holds. Idempotent. Besides its complete reservations this also
 * removes, among the addresses its index names, files a crashed writer left empty or cut short
 * (the index is written before each reservation, so those were this owner's attempts), and, like
 * host-local, files in the old format that hold only the container id.
 */
export async function release(store: ReservationStore, owner: Owner): Promise<void> {
  const indexed = await store.indexedAddresses(owner);
  const doomed = indexed
    ? (await Promise.all(indexed.map((ip) => store.holder(ip)))).filter(
        (r): r is Reservation => r !== undefined && ownershipOf(r.record, owner) !== "other",
      )
    : (await store.list()).filter((r) => isOwnedBy(r, owner));
  for (const r of doomed) await store.remove(r.ip);
  await store.dropIndex(owner);
}

const isOwnedBy = (r: Reservation | undefined, owner: Owner): r is Reservation => {
  const o = r && ownershipOf(r.record, owner);
  return o === "owner" || o === "legacy-owner";
};

/**
 * The reservations `owner` holds: through its index when there is one (each entry verified, since
 * the index may name an address whose reservation never completed), else by reading every
 * reservation (data written by host-local, which keeps no index) when asked to.
 */
async function ownedAddresses(
  store: ReservationStore,
  owner: Owner,
  opts: { scanWithoutIndex?: boolean } = {},
): Promise<Reservation[]> {
  const indexed = await store.indexedAddresses(owner);
  if (indexed) {
    return (await Promise.all(indexed.map((ip) => store.holder(ip)))).filter((r) => isOwnedBy(r, owner));
  }
  return opts.scanWithoutIndex ? (await store.list()).filter((r) => isOwnedBy(r, owner)) : [];
}

/** The owner must hold one address in every range set (and these must be `expected`, when given). */
export async function check(
  config: IpamConfig,
  store: ReservationStore,
  owner: Owner,
  expected?: readonly string[],
): Promise<void> {
  const held = await ownedAddresses(store, owner, { scanWithoutIndex: true });
  for (const [index, set] of config.rangeSets.entries()) {
    const mine = held.find((r) => rangeOf(set, parseIp(r.ip)));
    if (!mine) {
      throw new CniError(
        CniErrorCode.StateMismatch,
        `container ${owner.containerId}/${owner.ifName} holds no address in range set ${index}`,
        "DEL and ADD the attachment again",
      );
    }
  }
  for (const e of expected ?? []) {
    const ip = e.split("/")[0];
    if (!held.some((r) => r.ip === ip)) {
      throw new CniError(
        CniErrorCode.StateMismatch,
        `address ${ip} is not reserved for ${owner.containerId}/${owner.ifName}`,
        "DEL and ADD the attachment again",
      );
    }
  }
}

export interface GcOptions {
  readonly now?: number;
  /**
   * How long an empty or cut-short file is left alone: host-local creates the file and then writes
   * it, so a young partial file may be a reservation in flight, not debris.
   */
  readonly graceMs?: number;
}

/** Default grace for partial files and abandoned temp files. */
export const defaultGcGraceMs = 60_000;

/**
 * CNI GC (spec 1.1 "GC"): release every reservation whose owner is not among `valid`, including
 * files crashed writers left empty or cut short, and drop their owner indexes. Returns the
 * released addresses.
 */
export async function gc(
  store: ReservationStore,
  valid: readonly Owner[],
  opts: GcOptions = {},
): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const graceMs = opts.graceMs ?? defaultGcGraceMs;
  const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifName}`));
  const containers = new Set(valid.map((v) => v.containerId));
  const released: string[] = [];
  for (const r of await store.list()) {
    const wanted = isCompleteRecord(r.record)
      ? keep.has(`${r.containerId}\n${r.ifName}`)
      : // host-local's old format names only the container; anything else incomplete is debris once old.
        containers.has(r.record.trim()) || now - r.modifiedMs < graceMs;
    if (!wanted) {
      await store.remove(r.ip);
      released.push(r.ip);
    }
  }
  for (const o of await store.indexedOwners()) {
    if (!keep.has(`${o.containerId}\n${o.ifName}`)) await store.dropIndex(o);
  }
  await store.sweepAbandonedWrites(now - graceMs);
  return released;
}
