import { StrataError } from "../common/errors.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { type LabState, writeLabState } from "./state.js";
import { labReflectors } from "./topology.js";

export class LabTopologyError extends StrataError {
  constructor(message: string) {
    super("lab.topology", message);
  }
}

/** Pure: refused (with what to do instead) unless the lab can switch to `k` reflectors live. */
export function checkReflectorSwitch(state: LabState, k: number): void {
  if (state.spec.model !== "bgp")
    throw new LabTopologyError(
      `the lab runs the ${state.spec.model} model: route reflectors are for --model bgp`,
    );
  if (state.spec.underlay !== "l2")
    throw new LabTopologyError("on --underlay l3 the router reflects for every node: switch on an l2 lab");
  if (!Number.isInteger(k) || k < 0 || k > state.spec.nodes)
    throw new LabTopologyError(
      `${k} reflectors: give a whole number from 0 (full mesh) to ${state.spec.nodes}`,
    );
}

/**
 * Switch a running bgp lab to `k` route reflectors (0: full mesh) live: `strata bgp
 * route-reflectors` writes the cluster's topology into the lab's datastore (run from the first
 * node's namespace, the one path that reaches the embedded store and the lab's etcd alike), every
 * agent follows it, and the state records the new count so `lab check` expects its sessions.
 */
export async function switchRouteReflectors(
  kernel: Kernel,
  state: LabState,
  k: number,
  cli: { readonly nodePath: string; readonly cliScript: string },
): Promise<LabState> {
  checkReflectorSwitch(state, k);
  const first = state.nodes[0];
  if (!first) throw new LabTopologyError("the lab has no node");
  const names = labReflectors({ nodes: state.spec.nodes, routeReflectors: k });
  const r = await kernel.exec(namedNetns(first.ns), [
    cli.nodePath,
    cli.cliScript,
    ...["bgp", "route-reflectors", ...(names.length > 0 ? [names.join(",")] : ["--mesh"])],
    ...state.agentDatastoreArgs,
  ]);
  if (r.code !== 0)
    throw new LabTopologyError(`strata bgp route-reflectors failed: ${(r.stderr || r.stdout).trim()}`);
  const next: LabState = { ...state, spec: { ...state.spec, routeReflectors: k } };
  writeLabState(next);
  return next;
}
