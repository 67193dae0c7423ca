import { join } from "node:path";
import { describeError } from "../common/errors.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { labAgentClusterCidr } from "../lab/ip-family.js";
import { type LabState, labDir } from "../lab/state.js";
import { underlayNs } from "../lab/topology.js";
import type { NodeReport } from "./doctor-node.js";
import { ok, problem, type Verdict } from "./verdict.js";

export interface LabDoctorReport {
  readonly ok: boolean;
  readonly nodes: readonly NodeReport[];
  /** Lab-wide verdicts (the underlay's links), beside the nodes' own. */
  readonly lab: readonly Verdict[];
  readonly ms: number;
}

/** Pure: the `strata doctor` command line a lab node runs (its agent's state dir and datastore flags). */
export function nodeDoctorArgs(state: LabState, node: string): string[] {
  return [
    ...["doctor", "--json", "--node", node, "--underlay-dev", "eth0"],
    ...["--state-dir", join(labDir, node), "--cluster-cidr", labAgentClusterCidr(state.spec)],
    ...state.agentDatastoreArgs,
  ];
}

/**
 * Pure: every node's link into the underlay switch (`p-<node>` in the underlay namespace)
 * carries the lab's underlay MTU: a lower one silently drops larger frames (a bridge sends no
 * ICMP), the classic black hole for full-size packets.
 */
export function checkUnderlayLinks(
  state: LabState,
  links: readonly { readonly name: string; readonly mtu: number }[],
): Verdict[] {
  const want = state.spec.underlayMtu;
  const out: Verdict[] = [];
  for (const n of state.nodes) {
    const port = links.find((l) => l.name === `p-${n.name}`);
    if (port && port.mtu < want)
      out.push(
        problem(
          "underlay link",
          n.name,
          "mtu-exceeded",
          `the underlay link of ${n.name} (p-${n.name} in ${underlayNs}) has MTU ${port.mtu}, the underlay ${want}: frames over ${port.mtu} B to or from ${n.name} are dropped`,
          `ip -n ${underlayNs} link set p-${n.name} mtu ${want}`,
        ),
      );
  }
  if (out.length === 0)
    out.push(ok("underlay link", "lab", `every node's underlay link carries MTU ${want}`));
  return out;
}

/**
 * `strata lab doctor`: `strata doctor --json` in every node's namespace at once (the command an
 * operator runs on a node, reading that node's agent, state dir, kernel and the datastore), and
 * the lab's own underlay links.
 */
export async function labDoctor(
  kernel: Kernel,
  state: LabState,
  cli: { nodePath: string; cliScript: string },
): Promise<LabDoctorReport> {
  const started = Date.now();
  const run = async (n: LabState["nodes"][number]): Promise<NodeReport> => {
    const r = await kernel
      .exec(namedNetns(n.ns), [cli.nodePath, cli.cliScript, ...nodeDoctorArgs(state, n.name)], {
        timeoutMs: 120_000,
      })
      .catch((err) => ({ code: -1, stdout: "", stderr: describeError(err) }));
    try {
      return JSON.parse(r.stdout) as NodeReport;
    } catch {
      const why = r.stderr.trim().split("\n").slice(-2).join(" ") || `exit ${r.code}`;
      return {
        node: n.name,
        ok: false,
        verdicts: [
          problem(
            "agent health",
            n.name,
            "agent-unreachable",
            `strata doctor did not run on ${n.name}: ${why}`,
            "run it by hand in the node's namespace to see why",
          ),
        ],
      };
    }
  };
  const [nodes, links] = await Promise.all([
    Promise.all(state.nodes.map(run)),
    kernel.links(namedNetns(underlayNs)).catch(() => []),
  ]);
  const lab = checkUnderlayLinks(state, links);
  return {
    ok: nodes.every((n) => n.ok) && lab.every((v) => v.ok),
    nodes,
    lab,
    ms: Date.now() - started,
  };
}
