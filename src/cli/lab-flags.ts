import { hostingRefusal, maxAgentsForDescriptors } from "../lab/agent-hosts.js";
import { ipFamilyRefusal } from "../lab/ip-family.js";
import { type LabSpec, labModels } from "../lab/topology.js";
import { openFilesLimit } from "../process/open-files-limit.js";
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
  readonly attach?: string;
  readonly attachPlugin?: string;
  /** ipv4 (absent) | ipv6 | dual */
  readonly ipFamily?: string;
  /** auto (absent) | 1..200 */
  readonly agentsPerProcess?: string;
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
  const podAttach = oneOf("--pod-attachment", f.podAttachment ?? "auto", [
    "auto",
    "bridge",
    "routed",
  ] as const);
  const attach = parseAttach(f.attach);
  if (attach.length > 0 && underlay !== "l2")
    throw new UsageError(
      "--attach",
      "secondary networks hang off the node's underlay interface: use --underlay l2",
    );
  if (f.attachPlugin !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(f.attachPlugin))
    throw new UsageError("--attach-plugin", `"${f.attachPlugin}" is not a CNI plugin type`);
  const ipFamily = f.ipFamily ?? "ipv4";
  const refused = ipFamilyRefusal(ipFamily, { model, underlay });
  if (refused) throw new UsageError("--ip-family", refused);
  const datastore = oneOf("--datastore", f.datastore, datastores);
  const perProcess = f.agentsPerProcess ?? "auto";
  const agentsPerProcess =
    perProcess === "auto" ? undefined : wholeNumber("--agents-per-process", perProcess, 1, 200);
  const hostingRefused = hostingRefusal({ model, datastore, attach });
  if (agentsPerProcess !== undefined && agentsPerProcess > 1 && hostingRefused)
    throw new UsageError("--agents-per-process", `${hostingRefused}; give 1 or auto`);
  const openFiles = openFilesLimit();
  const fit = maxAgentsForDescriptors({ model, nodes, underlay, routeReflectors }, openFiles);
  if (agentsPerProcess !== undefined && agentsPerProcess > fit)
    throw new UsageError(
      "--agents-per-process",
      `${agentsPerProcess} agents of this lab would hold more BGP sockets than one process may open (${openFiles} descriptors): give at most ${fit}, or auto`,
    );
  return {
    model,
    nodes,
    podsPerNode: wholeNumber("--pods", f.pods, 0, 100),
    underlay,
    datastore,
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
    routeReflectors,
    ...(podAttach === "auto" ? {} : { podAttachment: podAttach }),
    ...(attach.length > 0 ? { attach, attachPlugin: f.attachPlugin ?? "strata-macvlan" } : {}),
    ...(ipFamily === "dual" || ipFamily === "ipv6" ? { ipFamily } : {}),
    ...(agentsPerProcess !== undefined ? { agentsPerProcess } : {}),
  };
}

/** `--attach macvlan[,NAME…]`: names of NetworkAttachmentDefinitions (lowercase, digits, '-'). */
function parseAttach(value: string | undefined): string[] {
  if (value === undefined) return [];
  const names = value.split(",").map((n) => n.trim());
  for (const n of names)
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n))
      throw new UsageError("--attach", `"${n}" is not a network name (lowercase letters, digits and '-')`);
  if (new Set(names).size !== names.length) throw new UsageError("--attach", "names a network twice");
  if (names.length > 8) throw new UsageError("--attach", "takes at most 8 networks");
  return names;
}
