import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { aliveNodes } from "../cluster/heartbeats.js";
import { describeError } from "../common/errors.js";
import type { Datastore } from "../datastore/api.js";
import { collectStranded } from "../ipam/cluster-pool.js";

/** How often each agent looks for addresses of dead pods in the cluster IPAM's pools. */
export const strandedScanMs = 60_000;
/**
 * How long a node may miss its heartbeat before any other node frees its pods' addresses: long
 * enough for an agent restart or a short datastore outage, short enough that a crashed node's
 * addresses come back within minutes (Whereabouts leaves them stranded).
 */
export const strandedNodeGraceMs = 5 * 60_000;

/**
 * The cluster IPAM's garbage collection in the agent (ipam/cluster-pool.ts `collectStranded`):
 * this node's allocations whose pod netns is gone, and every node's whose heartbeat has been
 * missing for the grace period. Runs until `signal` aborts; a failed pass is logged and retried.
 */
export function startStrandedAddressCollector(o: {
  readonly store: Datastore;
  readonly node: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly intervalMs?: number;
  readonly graceMs?: number;
}): void {
  const pass = async () => {
    try {
      const report = await collectStranded(o.store, {
        node: o.node,
        aliveNodes: await aliveNodes(o.store),
        netnsExists: async (p) => existsSync(p),
        now: Date.now(),
        graceMs: o.graceMs ?? strandedNodeGraceMs,
      });
      for (const f of report.freed)
        o.logger.info(
          { ip: f.ip, node: f.owner.node, pod: f.owner.pod, reason: f.reason },
          "freed a stranded address",
        );
    } catch (err) {
      o.logger.debug({ err: describeError(err) }, "cluster IPAM garbage collection failed");
    }
  };
  const timer = setInterval(() => void pass(), o.intervalMs ?? strandedScanMs);
  timer.unref();
  o.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
