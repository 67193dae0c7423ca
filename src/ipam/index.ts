/**
 * The IPAM as a library: host-local's keys and on-disk layout under `<dataDir>/<network>/`. Its
 * one caller is the `strata-ipam` plugin (plugins/strata-ipam), which maps CNI requests onto these
 * verbs. The `strata` plugin reaches them through that plugin as its delegate: linked into the
 * same process (the plugin executable or the agent), the delegate's verbs are called directly with
 * the decoded request, no exec and no JSON (cni/delegate.ts); only a foreign `ipam.type` is
 * executed from CNI_PATH.
 */
import { CniError, CniErrorCode } from "../cni/errors.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
import type { IpamConfig } from "./config.js";
import { DiskReservationStore } from "./disk-store.js";
import { type Allocation, allocate, check, type GcOptions, gc, release } from "./ipam.js";
import type { Owner } from "./reservation.js";

export { type IpamConfig, type IpRange, parseIpamConfig, type RangeSet } from "./config.js";
export type { Allocation, GcOptions } from "./ipam.js";
export type { Owner } from "./reservation.js";
export { requestedStaticIps } from "./static-ips.js";

/**
 * Reservations are safe across processes by the store's exclusive create. Inside one process the
 * ADDs of a network also take turns, so a burst of them does not race for the same next address
 * and retry down the range (host-local serialises with a file lock for the same reason). Keyed by
 * directory, which is process-wide by nature.
 */
const turns = new KeyedMutex();

const storeOf = (config: IpamConfig, network: string) => new DiskReservationStore(config.dataDir, network);

/**
 * ADD: one address per range set for containerId+ifName, or the ones it already holds. Throws
 * CniError 100 when a range set is full, 7 when a requested static IP is outside every range.
 */
export function allocateAddresses(
  config: IpamConfig,
  network: string,
  containerId: string,
  ifName: string,
  opts: { requestedIps?: readonly string[] } = {},
): Promise<Allocation> {
  const store = storeOf(config, network);
  return turns.run(store.dir, () => allocate(config, store, { containerId, ifName }, opts.requestedIps));
}

/** DEL: release what containerId+ifName holds; succeeds when it holds nothing. */
export function releaseAddresses(
  config: IpamConfig,
  network: string,
  containerId: string,
  ifName: string,
): Promise<void> {
  return release(storeOf(config, network), { containerId, ifName });
}

/** CHECK: containerId+ifName holds an address in every range set (and `expected`, if given); else CniError 103. */
export function checkAddresses(
  config: IpamConfig,
  network: string,
  containerId: string,
  ifName: string,
  expected?: readonly string[],
): Promise<void> {
  return check(config, storeOf(config, network), { containerId, ifName }, expected);
}

/** GC: release every reservation whose owner is not in `valid`; returns the released addresses. */
export function gcAddresses(
  config: IpamConfig,
  network: string,
  valid: readonly Owner[],
  opts?: GcOptions,
): Promise<string[]> {
  return gc(storeOf(config, network), valid, opts);
}

/** STATUS: the data directory takes writes; else CniError 50. */
export async function ipamStatus(config: IpamConfig, network: string): Promise<void> {
  if (!(await storeOf(config, network).writable())) {
    throw new CniError(
      CniErrorCode.PluginNotAvailable,
      `IPAM data directory ${config.dataDir}/${network} is not writable`,
      "fix the directory's permissions or free disk space",
    );
  }
}
