import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import { StrataError } from "../common/errors.js";
import type { ClusterStatus } from "./cluster-agent.js";
import type { CniRejection } from "./cni-server.js";
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
 * Health (/healthz, JSON status) and Prometheus metrics (/metrics) on a local port. A port that is
 * taken fails the start (before the agent leases anything); once serving, a failure of this server
 * is logged and never ends the agent.
 */
export async function startHealthServer(
  port: number,
  status: () => ClusterStatus | undefined,
  opts: { logger?: Logger; cni?: () => CniServerStats } = {},
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
  registerSpoofDropMetric(registry);
  let lastReconciles = 0;
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const s = status();
    if (req.url === "/healthz") {
      // Not ok without a subnet, or when this node's own lease is rejected (say so, not route quietly).
      const ok = s === undefined || (s.subnet !== undefined && s.ownLeaseRejected === undefined);
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(`${JSON.stringify({ ok, ...s })}\n`);
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
      }
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
    server.listen(port, "127.0.0.1", () => {
      server.removeAllListeners("error");
      server.on("error", (err) =>
        opts.logger?.warn({ err: String(err) }, "health server error (agent keeps running)"),
      );
      resolve();
    });
  });
  return server;
}
