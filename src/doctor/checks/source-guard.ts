import { type SpoofCounts, spoofCounterKinds } from "../../plugins/strata/source-guard-plan.js";
import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";

const total = (c: SpoofCounts) => spoofCounterKinds.reduce((n, k) => n + c[k], 0);
const byKind = (c: SpoofCounts) =>
  spoofCounterKinds
    .filter((k) => c[k] > 0)
    .map((k) => `${k} ${c[k]}`)
    .join(", ");

/**
 * Pure: is a pod on this node sending with a source that is not its own right now? The source
 * guard drops such packets and counts them; the counters are read at the start of doctor's run and
 * after its probes, and a rise in between is forging going on while doctor looked. Older drops are
 * history (said in the ok line, not a problem).
 */
export function checkSourceGuard(f: NodeFacts): Verdict[] {
  const g = f.sourceGuard;
  if (!g) return [];
  if (!g.before || !g.after)
    return [
      skipped("source guard", f.node, `cannot read the source guard's counters: ${g.error ?? "no answer"}`),
    ];
  const rise: SpoofCounts = {
    ipv4: g.after.ipv4 - g.before.ipv4,
    ipv6: g.after.ipv6 - g.before.ipv6,
    arp: g.after.arp - g.before.arp,
    other: g.after.other - g.before.other,
  };
  const seconds = Math.max(1, Math.round(g.seconds));
  if (total(rise) > 0)
    return [
      problem(
        "source guard",
        f.node,
        "spoofed-source",
        `a pod on this node is sending with a source address that is not its own: ${total(rise)} packets dropped in the last ${seconds} s (${byKind(rise)}; ${total(g.after)} since the guard was set up)`,
        "find the pod: `strata lab trace POD DST` names the guarded port that drops it, and `nft list table bridge strata-antispoof` (routed mode: inet) the addresses each port may use; then stop what forges in that pod",
      ),
    ];
  return [
    ok(
      "source guard",
      f.node,
      total(g.after) > 0
        ? `no forged source in the last ${seconds} s (${total(g.after)} dropped earlier: ${byKind(g.after)})`
        : `no forged source dropped (for ${seconds} s, nor before)`,
    ),
  ];
}
