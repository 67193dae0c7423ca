import { Counter, type Registry } from "prom-client";
import { SLEEVE_DROP_REASONS, type SleeveCounters } from "../kernel/sleeve/api.js";
import type { ClusterStatus } from "./cluster-agent.js";

/** The sleeve helper's counters as the backend's status carries them (read every 2 s), if any. */
function sleeveCounters(s: ClusterStatus | undefined): SleeveCounters | undefined {
  const sleeve = s?.backend?.sleeve as { counters?: SleeveCounters } | undefined;
  return sleeve?.counters;
}

/**
 * `strata_sleeve_packets_total{direction}` and `strata_sleeve_dropped_total{reason}`: what the
 * sleeve userspace datapath carried and dropped (a node on the sleeve backend, or ipip/gre on
 * their sleeve fallback). The helper counts; the values are its, since it last started.
 */
export function registerSleeveMetrics(
  registry: Registry,
  status: () => ClusterStatus | undefined | Promise<ClusterStatus | undefined>,
): void {
  new Counter({
    name: "strata_sleeve_packets_total",
    help: "Packets the sleeve datapath encapsulated (from its TUN) and decapsulated (into it)",
    labelNames: ["direction"],
    registers: [registry],
    async collect() {
      const c = sleeveCounters(await status());
      if (!c) return;
      this.reset();
      this.inc({ direction: "encapsulated" }, c.encapsulated);
      this.inc({ direction: "decapsulated" }, c.decapsulated);
    },
  });
  new Counter({
    name: "strata_sleeve_dropped_total",
    help: "Packets the sleeve datapath dropped, by reason (unknown-outer-source, inner-source-not-in-peer-cidr, ...)",
    labelNames: ["reason"],
    registers: [registry],
    async collect() {
      const c = sleeveCounters(await status());
      if (!c) return;
      this.reset();
      for (const reason of SLEEVE_DROP_REASONS) this.inc({ reason }, c.dropped[reason]);
    },
  });
}
