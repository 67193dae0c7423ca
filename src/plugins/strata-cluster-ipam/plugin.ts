import { hostname } from "node:os";
import { CniError, CniErrorCode, invalidConfig } from "../../cni/errors.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import { describeError } from "../../common/errors.js";
import type { Datastore } from "../../datastore/api.js";
import { type ClusterIpamConfig, parseClusterIpamConfig } from "../../ipam/cluster-config.js";
import { allocateFromPool, checkPool, gcPool, releaseFromPool } from "../../ipam/cluster-pool.js";
import { requestedStaticIps } from "../../ipam/static-ips.js";

/** Opens the store an `ipam.datastore` URL names (the composition root picks the clients). */
export type OpenStore = (url: string, tls: ClusterIpamConfig["etcdTls"]) => Datastore;

export interface ClusterIpamDeps {
  readonly openStore: OpenStore;
  readonly now?: () => number;
}

/**
 * The node an invocation runs for: `ipam.nodeName`, else CNI_ARGS STRATA_NODE_NAME (the meta
 * plugin passes its own node that way), else the host name.
 */
function nodeOf(req: CniRequest<ClusterIpamConfig>): string {
  return req.config.nodeName ?? req.args.all.STRATA_NODE_NAME ?? hostname();
}

/**
 * `strata-cluster-ipam`: one address pool for the whole cluster, in the datastore
 * (ipam/cluster-pool.ts), for secondary networks whose pods on every node share one subnet
 * (macvlan over a common L2, as Whereabouts serves Multus). host-local's keys plus `datastore`,
 * `exclude` and `nodeName`.
 */
export function createClusterIpamPlugin(deps: ClusterIpamDeps): CniPlugin<ClusterIpamConfig> {
  const now = deps.now ?? Date.now;
  /** Run `fn` against the store, closed afterwards; an unreachable store is code 11 (try again). */
  async function withStore<T>(
    req: CniRequest<ClusterIpamConfig>,
    fn: (s: Datastore) => Promise<T>,
  ): Promise<T> {
    let store: Datastore;
    try {
      store = deps.openStore(req.config.datastore, req.config.etcdTls);
    } catch (err) {
      throw invalidConfig(
        `ipam.datastore ${req.config.datastore}: ${describeError(err)}`,
        "fix ipam.datastore and its TLS files",
      );
    }
    try {
      return await fn(store);
    } catch (err) {
      if (err instanceof CniError) throw err;
      throw new CniError(
        CniErrorCode.TryAgainLater,
        `the cluster IPAM's datastore ${req.config.datastore} failed`,
        describeError(err),
        { cause: err },
      );
    } finally {
      await store.close().catch(() => undefined);
    }
  }
  return {
    type: "strata-cluster-ipam",
    parseConfig(raw) {
      if (raw.ipam === undefined || raw.ipam === null || typeof raw.ipam !== "object")
        throw invalidConfig(
          'the network configuration has no "ipam" section',
          'add "ipam": {"type": "strata-cluster-ipam", "datastore": "...", "ranges": [[{"subnet": "10.60.0.0/24"}]]}',
        );
      return parseClusterIpamConfig(raw.ipam);
    },
    async add(req) {
      const requested = requestedStaticIps(req.runtimeConfig, req.args.all);
      const pod =
        req.args.podNamespace && req.args.podName
          ? `${req.args.podNamespace}/${req.args.podName}`
          : undefined;
      const a = await withStore(req, (s) =>
        allocateFromPool(
          s,
          req.config,
          {
            node: nodeOf(req),
            containerId: req.containerId,
            ifName: req.ifName,
            netns: req.netns,
            network: req.network,
            ...(pod ? { pod } : {}),
          },
          requested,
          now(),
        ),
      );
      return { cniVersion: req.cniVersion, ips: a.ips, routes: a.routes, dns: a.dns ?? {} };
    },
    async del(req) {
      await withStore(req, (s) => releaseFromPool(s, req.config, req));
    },
    async check(req) {
      const expected = req.prevResult?.ips?.map((ip) => ip.address);
      await withStore(req, (s) => checkPool(s, req.config, req, expected));
    },
    async gc(req) {
      const valid = req.validAttachments.map((a) => ({ containerId: a.containerID, ifName: a.ifname }));
      await withStore(req, (s) => gcPool(s, req.config, nodeOf(req), valid));
    },
    async status(req) {
      try {
        await withStore(req, (s) => s.get("/strata/cluster-ipam/"));
      } catch (err) {
        throw new CniError(
          CniErrorCode.PluginNotAvailable,
          `the cluster IPAM's datastore ${req.config.datastore} does not answer`,
          describeError(err),
        );
      }
    },
  };
}
