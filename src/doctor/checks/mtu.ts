import type { NodeFacts, Probe } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import { modelOf, overheadOf, underlayLink } from "./model.js";

/** Pure: pod MTU (agent, subnet.json, conflist) against the underlay MTU minus the model's overhead. */
export function checkPodMtu(f: NodeFacts): Verdict {
  const link = underlayLink(f);
  if (!link)
    return problem(
      "pod MTU",
      f.node,
      "mtu-config",
      `no underlay device ${f.underlayDev}`,
      "give doctor the agent's --underlay-dev",
    );
  const model = modelOf(f);
  const overhead = overheadOf(f);
  const want = link.mtu - overhead;
  const pod = f.agent.health?.podMtu ?? f.stateDir?.subnet?.mtu;
  if (pod === undefined)
    return skipped("pod MTU", f.node, "no pod MTU known (no agent status, no subnet.json)");
  if (pod > want)
    return problem(
      "pod MTU",
      f.node,
      "mtu-config",
      `pod MTU ${pod} > underlay MTU ${link.mtu} − ${overhead} (${model ?? "?"} overhead) = ${want}: full-size pod packets cannot cross`,
      `restart the agent to recompute it (pods need MTU ≤ ${want}), or raise ${f.underlayDev}'s MTU`,
    );
  const conflist = f.stateDir?.conflistMtu;
  if (conflist !== undefined && conflist !== pod)
    return problem(
      "pod MTU",
      f.node,
      "mtu-config",
      `the CNI conflist gives pods MTU ${conflist} but the agent computed ${pod}`,
      "restart the agent so it rewrites the conflist (pods made since get the new MTU)",
    );
  return ok(
    "pod MTU",
    f.node,
    `pod MTU ${pod} = ${f.underlayDev} ${link.mtu} − ${overhead} (${model ?? "?"})${pod < want ? ` (smaller than the ${want} possible)` : ""}`,
  );
}

const describe = (p: Probe) => `${p.kind} to ${p.peer} ${p.to}`;

/**
 * Pure: the DF probes prove the MTU: full-size packets with DF set pass to every peer, on the
 * underlay (underlay MTU) and through the overlay (pod MTU). A probe that passes only smaller
 * packets names the largest that passed: a link on that path has that MTU.
 */
export function checkDfProbes(f: NodeFacts): Verdict[] {
  if (f.probes.length === 0)
    return [
      skipped(
        "DF probes",
        f.node,
        f.cluster ? "no peers to probe" : "no peers known (give --datastore as the agent has)",
      ),
    ];
  const out: Verdict[] = [];
  const failed = f.probes.filter((p) => !p.ok);
  for (const p of failed) {
    if (!p.largest) {
      // Nothing came back at all: not an MTU problem; routes, vxlan port and BGP say why.
      if (p.kind === "underlay")
        out.push(
          problem(
            "DF probes",
            f.node,
            "underlay-unreachable",
            `${describe(p)}: no answer even to a small ping`,
            `check the underlay between this node and ${p.peer} (address, cable, firewall)`,
            p.peer,
          ),
        );
      continue;
    }
    const overhead = p.kind === "overlay" ? overheadOf(f) : 0;
    out.push(
      problem(
        "DF probes",
        f.node,
        "mtu-exceeded",
        `${describe(p)}: DF packets of ${p.size} B do not pass, ${p.largest} B do: the path carries at most ${p.largest + overhead} B (a link on the way has a lower MTU)`,
        `raise that link's MTU to ${p.size + overhead}, or give every node's ${f.underlayDev} an MTU of at most ${p.largest + overhead} (pods then get that − ${overheadOf(f)})`,
        p.peer,
      ),
    );
  }
  if (failed.length === 0) {
    const sizes = [...new Set(f.probes.map((p) => `${p.kind} ${p.size} B`))].join(", ");
    const peers = new Set(f.probes.map((p) => p.peer)).size;
    out.push(ok("DF probes", f.node, `DF probes pass to ${peers} peer${peers === 1 ? "" : "s"} (${sizes})`));
  }
  return out;
}
