import { type LabSpec, labModels } from "../lab/topology.js";
import { oneOf, UsageError } from "./options.js";

/** The lab's flags as the command line gives them (strings). */
export interface LabFlags {
  readonly model: string;
  readonly nodes: string;
  readonly pods: string;
  readonly underlay: string;
  readonly datastore: string;
  readonly routeReflectors: string;
  /** auto (absent) | bridge | routed */
  readonly podAttachment?: string;
}

const underlays = ["l2", "l3"] as const;
const datastores = ["embedded", "etcd"] as const;

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(flag, `"${value}" is not a whole number from ${min} to ${max}`);
  return Number(value);
}

/**
 * Pure: the lab's flags into a spec, every value checked before anything is touched. A bad value is
 * a UsageError naming the flag and what it takes (the CLI exits 2 and leaves a running lab alone).
 */
export function parseLabFlags(f: LabFlags): LabSpec {
  const model = oneOf("--model", f.model, labModels);
  const underlay = oneOf("--underlay", f.underlay, underlays);
  const nodes = wholeNumber("--nodes", f.nodes, 1, 200);
  const routeReflectors = wholeNumber("--route-reflectors", f.routeReflectors, 0, nodes);
  if (routeReflectors > 0 && (model !== "bgp" || underlay !== "l2"))
    throw new UsageError("--route-reflectors", "applies only to --model bgp on --underlay l2");
  const attach = oneOf("--pod-attachment", f.podAttachment ?? "auto", ["auto", "bridge", "routed"] as const);
  return {
    model,
    nodes,
    podsPerNode: wholeNumber("--pods", f.pods, 0, 100),
    underlay,
    datastore: oneOf("--datastore", f.datastore, datastores),
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
    routeReflectors,
    ...(attach === "auto" ? {} : { podAttachment: attach }),
  };
}
