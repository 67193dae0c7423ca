import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";

/**
 * Pure: every IPAM reservation in the node's state directory has its pod's host veth (the name
 * the strata plugin derives from container id and interface). One without is an address held
 * for a pod that is gone: the runtime's CNI GC, or DEL for that container, frees it.
 */
export function checkIpam(f: NodeFacts): Verdict[] {
  const s = f.stateDir;
  if (!s) return [skipped("ipam", f.node, "no --state-dir given")];
  const links = new Set(f.kernel.links.map((l) => l.name));
  const out: Verdict[] = s.errors.map((e) =>
    problem("ipam", f.node, "state-dir", e, `check ${s.dir} (the agent's --state-dir)`),
  );
  for (const r of s.reservations) {
    if (links.has(r.hostVeth)) continue;
    out.push(
      problem(
        "ipam",
        f.node,
        "ipam-orphan",
        `${r.ip} is reserved for container ${r.containerId} (${r.ifName}) but its pod interface ${r.hostVeth} does not exist`,
        `CNI DEL for ${r.containerId} (or the runtime's CNI GC) frees it`,
      ),
    );
  }
  if (out.length === 0)
    out.push(ok("ipam", f.node, `${s.reservations.length} reservations, each with its pod interface`));
  return out;
}
