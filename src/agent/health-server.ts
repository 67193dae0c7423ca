import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import { listenerInNetns } from "../bgp/speaker/tcp-security.js";
import { StrataError } from "../common/errors.js";
import type { SpoofCounts } from "../plugins/strata/source-guard-plan.js";
import type { ClusterStatus } from "./cluster-agent.js";
import type { CniRejection } from "./cni-server.js";
import { assessHealth, assessReadiness } from "./health.js";
import { registerSleeveMetrics } from "./sleeve-metric.js";
import { registerSpoofDropMetric } from "./spoof-metric.js";

export class HealthPortError extends StrataError {
  constructor(port: number, cause: string) {
    super(
      "agent.health-port",
      `cannot serve /healthz on 127.0.0.1:${port}: ${cause} (pick another --health-port)`,
    );
  }
}

/** What the CNI server counts, for /metrics. */
export interface CniServerStats {
  readonly rejected: Readonly<Record<CniRejection, number>>;
}

/**
 * Health (/healthz: ok and why not, with the JSON status), readiness (/readyz: the node can take
 * pods) and Prometheus metrics (/metrics) on a local port. A port that is taken fails the start
 * (before the agent leases anything); once serving, a failure of this server is logged and never
 * ends the agent.
 */
export async function startHealthServer(
  port: number,
  status: () => ClusterStatus | undefined | Promise<ClusterStatus | undefined>,
  opts: {
    logger?: Logger;
    cni?: () => CniServerStats;
    /** Serve on 127.0.0.1 of this network namespace (a namespace file) instead of this process's. */
    netnsPath?: string;
    /** The source guard's drop counters (default: `nft` run here). */
    readSpoofCounts?: () => Promise<SpoofCounts>;
  } = {},
): Promise<Server> {
  const registry = new Registry();
  const cniRejected = new Gauge({
    name: "strata_cni_requests_rejected",
    help: "CNI connections refused by the agent's bounds since it started (overload, too-large, timeout)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const peers = new Gauge({
    name: "strata_peers",
    help: "Other nodes this node routes to",
    registers: [registry],
  });
  const unreachable = new Gauge({
    name: "strata_unreachable_peers",
    help: "Peers the backend cannot serve (e.g. host-gw across a router)",
    registers: [registry],
  });
  const rejectedLeases = new Gauge({
    name: "strata_rejected_leases",
    help: "Subnet leases in the datastore that failed validation or lost a conflict (not routed to)",
    registers: [registry],
  });
  const reconciles = new Counter({
    name: "strata_reconciles_total",
    help: "Reconcile passes",
    registers: [registry],
  });
  registerSpoofDropMetric(registry, opts.readSpoofCounts);
  registerSleeveMetrics(registry, status);
  const triggers = new Counter({
    name: "strata_reconcile_triggers_total",
    help: "Reasons to reconcile (watch events, BGP changes, repair ticks); those during a pass merge into one next pass",
    registers: [registry],
  });
  const notAlive = new Gauge({
    name: "strata_peers_not_alive",
    help: "Peers routed to whose agent has no heartbeat (routes kept: their kernels still forward)",
    registers: [registry],
  });
  const missing = new Gauge({
    name: "strata_missing_routes",
    help: "Routes to peers the agent wants that are missing from the kernel",
    registers: [registry],
  });
  const storeDown = new Gauge({
    name: "strata_datastore_unreachable_seconds",
    help: "How long the datastore has been unreachable (0: reachable)",
    registers: [registry],
  });
  const healthy = new Gauge({
    name: "strata_healthy",
    help: "1 when /healthz is ok",
    registers: [registry],
  });
  let lastReconciles = 0;
  let lastTriggers = 0;
  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const s = await status();
    if (req.url === "/healthz") {
      // Not ok for each reason the node does not do its job, and the body says which.
      const h = assessHealth(s, Date.now());
      json(res, h.ok ? 200 : 503, { ...h, ...s });
      return;
    }
    if (req.url === "/readyz") {
      const r = assessReadiness(s);
      json(res, r.ready ? 200 : 503, { ...r, node: s?.node, subnet: s?.subnet, conflist: s?.conflist });
      return;
    }
    if (req.url === "/metrics") {
      for (const [reason, n] of Object.entries(opts.cni?.().rejected ?? {})) cniRejected.set({ reason }, n);
      if (s) {
        peers.set(s.peers);
        unreachable.set(s.unreachable.length);
        rejectedLeases.set(s.leaseConflicts.length);
        reconciles.inc(s.reconciles - lastReconciles);
        lastReconciles = s.reconciles;
        triggers.inc(s.reconcileTriggers - lastTriggers);
        lastTriggers = s.reconcileTriggers;
        notAlive.set(s.peersNotAlive.length);
        missing.set(s.missingRoutes.length);
        const since = s.datastore.unreachableSince;
        storeDown.set(since ? Math.max(0, (Date.now() - Date.parse(since)) / 1000) : 0);
      }
      healthy.set(assessHealth(s, Date.now()).ok ? 1 : 0);
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((err) => {
      opts.logger?.warn({ err: String(err), url: req.url }, "health request failed (agent keeps running)");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new HealthPortError(
          port,
          err.code === "EADDRINUSE" ? "the port is already in use by another process" : err.message,
        ),
      ),
    );
    // In another namespace the socket is made there natively (Node makes sockets only here).
    let fd: number | undefined;
    try {
      if (opts.netnsPath) fd = listenerInNetns("127.0.0.1", port, opts.netnsPath);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      reject(
        new HealthPortError(
          port,
          /EADDRINUSE|in use/i.test(text) ? "the port is already in use by another process" : text,
        ),
      );
      return;
    }
    const done = () => {
      server.removeAllListeners("error");
      server.on("error", (err) =>
        opts.logger?.warn({ err: String(err) }, "health server error (agent keeps running)"),
      );
      resolve();
    };
    if (fd !== undefined) server.listen({ fd }, done);
    else server.listen(port, "127.0.0.1", done);
  });
  return server;
}
