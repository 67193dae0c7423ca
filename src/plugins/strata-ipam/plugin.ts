import { invalidConfig } from "../../cni/errors.js";
import type { CniPlugin } from "../../cni/skeleton.js";
import {
  allocateAddresses,
  checkAddresses,
  gcAddresses,
  type IpamConfig,
  ipamStatus,
  parseIpamConfig,
  releaseAddresses,
  requestedStaticIps,
} from "../../ipam/index.js";

/**
 * `strata-ipam`: host-local compatible address management (same keys, same on-disk layout), so
 * it can sit under any main plugin (bridge, macvlan, strata) and share a data directory with
 * host-local. The verbs are the IPAM library's; this file only maps CNI requests onto them.
 */
export function createIpamPlugin(): CniPlugin<IpamConfig> {
  return {
    type: "strata-ipam",
    parseConfig(raw) {
      if (raw.ipam === undefined || raw.ipam === null || typeof raw.ipam !== "object") {
        throw invalidConfig(
          'the network configuration has no "ipam" section',
          'add "ipam": {"type": "strata-ipam", "ranges": [[{"subnet": "10.22.0.0/16"}]]}',
        );
      }
      return parseIpamConfig(raw.ipam);
    },
    async add(req) {
      const requestedIps = requestedStaticIps(req.runtimeConfig, req.args.all);
      const a = await allocateAddresses(req.config, req.network, req.containerId, req.ifName, {
        requestedIps,
      });
      // IPAM plugins create no interfaces, so the IPs carry no interface index (spec: "ips").
      return { cniVersion: req.cniVersion, ips: a.ips, routes: a.routes, dns: a.dns ?? {} };
    },
    async del(req) {
      await releaseAddresses(req.config, req.network, req.containerId, req.ifName);
    },
    async check(req) {
      const expected = req.prevResult?.ips?.map((ip) => ip.address);
      await checkAddresses(req.config, req.network, req.containerId, req.ifName, expected);
    },
    async gc(req) {
      const valid = req.validAttachments.map((a) => ({ containerId: a.containerID, ifName: a.ifname }));
      await gcAddresses(req.config, req.network, valid);
    },
    async status(req) {
      await ipamStatus(req.config, req.network);
    },
  };
}

/** The plugin as the standalone executable and in-process callers use it. */
export const ipamPlugin: CniPlugin<IpamConfig> = createIpamPlugin();
