import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import type { ClusterStatus } from "./cluster-agent.js";
import { registerSpoofDropMetric } from "./spoof-metric.js";

/** Health (/healthz, JSON status) and Prometheus metrics (/metrics) on a local port. */
export async function startHealthServer(
  port: number,
  status: () => ClusterStatus | undefined,
): Promise<Server> {
  const registry = new Registry();
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
  const reconciles = new Counter({
    name: "strata_reconciles_total",
    help: "Reconcile passes",
    registers: [registry],
  });
  registerSpoofDropMetric(registry);
  let lastReconciles = 0;
  const server = createServer(async (req, res) => {
    const s = status();
    if (req.url === "/healthz") {
      const ok = s === undefined || s.subnet !== undefined;
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(`${JSON.stringify({ ok, ...s })}\n`);
      return;
    }
    if (req.url === "/metrics") {
      if (s) {
        peers.set(s.peers);
        unreachable.set(s.unreachable.length);
        reconciles.inc(s.reconciles - lastReconciles);
        lastReconciles = s.reconciles;
      }
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return server;
}
