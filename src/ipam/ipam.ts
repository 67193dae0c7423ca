import ipaddr from "ipaddr.js";
import { CniError, CniErrorCode } from "../cni/errors.js";
import type { CniDns, CniIpConfig, CniRoute } from "../cni/result.js";
import { formatIp, parseIp } from "./address.js";
import { candidates, rangeOf } from "./allocator.js";
import type { IpamConfig, IpRange } from "./config.js";
import type { Reservation, ReservationStore } from "./store.js";

export interface Owner {
  readonly containerId: string;
  readonly ifName: string;
}

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
    await store.writeIndex(owner.containerId, owner.ifName, ips);
    indexed = ips;
  };
  const reserve = async (ip: string, index: number) => {
    await writeIndex([...held.map((h) => h.ip), ...taken, ip]);
    return store.reserve(ip, owner.containerId, owner.ifName, index);
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

/** Release every address the owner holds. Idempotent. */
export async function release(store: ReservationStore, owner: Owner): Promise<void> {
  for (const r of await ownedAddresses(store, owner, { scanWithoutIndex: true })) await store.remove(r.ip);
  await store.dropIndex(owner.containerId, owner.ifName);
}

/**
 * The reservations `owner` holds: through its index when there is one (each entry verified, since
 * the index may name an address whose reservation never completed), else by reading every
 * reservation (only for data written by host-local, which keeps no index) when asked to.
 */
async function ownedAddresses(
  store: ReservationStore,
  owner: Owner,
  opts: { scanWithoutIndex?: boolean } = {},
): Promise<Reservation[]> {
  const isOwner = (r: Reservation | undefined): r is Reservation =>
    r !== undefined && r.containerId === owner.containerId && r.ifName === owner.ifName;
  const indexed = await store.indexedAddresses(owner.containerId, owner.ifName);
  if (indexed) return (await Promise.all(indexed.map((ip) => store.holder(ip)))).filter(isOwner);
  return opts.scanWithoutIndex ? (await store.list()).filter(isOwner) : [];
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

/** Release every reservation whose owner is not among `valid` (CNI GC). Returns what was released. */
export async function gc(store: ReservationStore, valid: readonly Owner[]): Promise<string[]> {
  const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifName}`));
  const released: string[] = [];
  for (const r of await store.list()) {
    if (!keep.has(`${r.containerId}\n${r.ifName}`)) {
      await store.remove(r.ip);
      released.push(r.ip);
    }
  }
  for (const o of await store.indexedOwners()) {
    if (!keep.has(`${o.containerId}\n${o.ifName}`)) await store.dropIndex(o.containerId, o.ifName);
  }
  return released;
}
