import { Counter, type Registry } from "prom-client";
import { readSpoofCounts } from "../plugins/strata/source-guard.js";
import { type SpoofCounts, spoofCounterKinds } from "../plugins/strata/source-guard-plan.js";
import { runProgram } from "../process/run-program.js";

/**
 * `strata_spoofed_packets_dropped_total{family="ipv4"|"ipv6"|"arp"|"other"}`: packets pods sent
 * from an address not their own, dropped at their veth. The kernel counts (named nft counters of
 * the source guard, which survive rule rewrites); this reads them at scrape time, in the agent's
 * network namespace, which is the node's.
 */
export function registerSpoofDropMetric(
  registry: Registry,
  read: () => Promise<SpoofCounts> = () => readSpoofCounts(runProgram),
): void {
  new Counter({
    name: "strata_spoofed_packets_dropped_total",
    help: "Packets pods sent from an address not their own, dropped at their veth (by kind)",
    labelNames: ["family"],
    registers: [registry],
    async collect() {
      const counts = await read().catch(() => undefined);
      if (!counts) return;
      this.reset();
      for (const kind of spoofCounterKinds) this.inc({ family: kind }, counts[kind]);
    },
  });
}
