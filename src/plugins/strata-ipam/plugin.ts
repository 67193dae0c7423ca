import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniResult } from "../../cni/result.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import { KeyedMutex } from "../../common/keyed-mutex.js";
import { type IpamConfig, parseIpamConfig } from "../../ipam/config.js";
import { DiskReservationStore } from "../../ipam/disk-store.js";
import { allocate, check, gc, release } from "../../ipam/ipam.js";

type Req = CniRequest<IpamConfig>;

const storeFor = (req: Req) => new DiskReservationStore(req.config.dataDir, req.network);
const owner = (req: Req) => ({ containerId: req.containerId, ifName: req.ifName });

/** Static IPs asked for through runtimeConfig (capability "ips") or CNI_ARGS IP=a,b (host-local's keys). */
function requestedIps(req: Req): string[] {
  const fromRuntime = req.runtimeConfig.ips;
  const list = Array.isArray(fromRuntime)
    ? fromRuntime.filter((x): x is string => typeof x === "string")
    : [];
  const fromArgs = req.args.all.IP;
  if (fromArgs) list.push(...fromArgs.split(",").filter(Boolean));
  return list;
}

/**
 * `strata-ipam`: host-local compatible address management (same keys, same on-disk layout).
 * Across processes, reservations are safe by the store's exclusive create. Inside one process
 * (the agent), allocations of a network also take turns, so concurrent ADDs do not all race for
 * the same next address (host-local serialises with a file lock for the same reason).
 */
export function createIpamPlugin(): CniPlugin<IpamConfig> {
  const turns = new KeyedMutex();
  return {
    type: "strata-ipam",
    parseConfig(raw) {
      if (raw.ipam === undefined || raw.ipam === null || typeof raw.ipam !== "object") {
        throw new CniError(
          CniErrorCode.InvalidNetworkConfig,
          'the network configuration has no "ipam" section',
          'add "ipam": {"type": "strata-ipam", "ranges": [...]}',
        );
      }
      return parseIpamConfig(raw.ipam);
    },
    async add(req): Promise<CniResult> {
      const store = storeFor(req);
      const a = await turns.run(store.dir, () => allocate(req.config, store, owner(req), requestedIps(req)));
      return { cniVersion: req.cniVersion, ips: a.ips, routes: a.routes, dns: a.dns ?? {} };
    },
    async del(req) {
      await release(storeFor(req), owner(req));
    },
    async check(req) {
      await check(
        req.config,
        storeFor(req),
        owner(req),
        req.prevResult?.ips?.map((ip) => ip.address),
      );
    },
    async gc(req) {
      const store = storeFor(req);
      await store.removeStaleTemps();
      await gc(
        store,
        req.validAttachments.map((a) => ({ containerId: a.containerID, ifName: a.ifname })),
      );
    },
    async status(req) {
      if (!(await storeFor(req).writable())) {
        throw new CniError(
          CniErrorCode.PluginNotAvailable,
          `IPAM data directory ${req.config.dataDir} is not writable`,
          "fix the directory's permissions or free disk space",
        );
      }
    },
  };
}
