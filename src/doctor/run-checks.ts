import { checkAgentHealth, checkReconcile } from "./checks/agent.js";
import { checkBgp } from "./checks/bgp.js";
import { checkIpam } from "./checks/ipam.js";
import { checkLeases } from "./checks/leases.js";
import { checkDfProbes, checkPodMtu } from "./checks/mtu.js";
import { checkChecksumOffload } from "./checks/offload.js";
import { checkRoutes, checkVxlanEntries, checkVxlanPort } from "./checks/paths.js";
import { checkRpFilter } from "./checks/rp-filter.js";
import { checkSourceGuard } from "./checks/source-guard.js";
import { checkTunnel } from "./checks/tunnel.js";
import type { NodeFacts } from "./facts.js";
import type { Verdict } from "./verdict.js";

/** Pure: every check of one node from its gathered facts, in the order doctor prints them. */
export function runChecks(f: NodeFacts): Verdict[] {
  const routes = checkRoutes(f);
  const entries = checkVxlanEntries(f);
  return [
    checkAgentHealth(f),
    checkReconcile(f),
    checkPodMtu(f),
    ...checkDfProbes(f),
    ...routes,
    ...entries,
    ...checkVxlanPort(f, entries, routes),
    ...checkTunnel(f, routes),
    ...checkChecksumOffload(f),
    ...checkRpFilter(f),
    ...checkSourceGuard(f),
    ...checkBgp(f),
    ...checkLeases(f),
    ...checkIpam(f),
  ];
}
