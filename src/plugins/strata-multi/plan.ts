import { invalidConfig } from "../../cni/errors.js";
import type { ConfList } from "../../cni/runtime-client.js";
import { clusterInterface, type PlannedAttachment } from "../../netattach/annotation.js";

/** One network to attach: a configuration list on one interface, with what the pod asked of it. */
export interface AttachmentPlan {
  /** The name in network-status: the cluster network's own name, or `namespace/name`. */
  readonly name: string;
  readonly ifName: string;
  readonly list: ConfList;
  /** runtimeConfig values by capability (`ips`, `mac`, or the runtime's own for the cluster network). */
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
  /** `args.cni` for each plugin of the list (the annotation's `cni-args`). */
  readonly cniArgs?: Readonly<Record<string, unknown>>;
  /** Gateways of the default route this network takes over (`default-route`). */
  readonly defaultRoute?: readonly string[];
  readonly cluster: boolean;
}

const declares = (list: ConfList, cap: string) =>
  list.plugins.some((p) => (p.capabilities as Record<string, unknown> | undefined)?.[cap] === true);

/**
 * Pure: the attachments of one pod in ADD order — the cluster network on CNI_IFNAME first, then
 * each selected network on its interface. `ips` and `mac` go to the delegate as runtimeConfig
 * (the "ips"/"mac" capabilities, as Multus passes them); a network whose plugins declare neither
 * cannot honour them, which is said before anything is attached.
 */
export function planAttachments(
  cluster: { list: ConfList; ifName: string; runtimeConfig: Readonly<Record<string, unknown>> },
  selected: readonly { planned: PlannedAttachment; list: ConfList }[],
): AttachmentPlan[] {
  if (cluster.ifName !== clusterInterface && selected.some((s) => s.planned.ifName === cluster.ifName))
    throw invalidConfig(`a secondary network asks for ${cluster.ifName}, the cluster network's interface`);
  const plans: AttachmentPlan[] = [
    {
      name: cluster.list.name,
      ifName: cluster.ifName,
      list: cluster.list,
      capabilityArgs: cluster.runtimeConfig,
      cluster: true,
    },
  ];
  for (const { planned, list } of selected) {
    const s = planned.selection;
    const name = `${s.namespace}/${s.name}`;
    const caps: Record<string, unknown> = {};
    for (const [cap, value] of [
      ["ips", s.ips],
      ["mac", s.mac],
    ] as const) {
      if (value === undefined) continue;
      if (!declares(list, cap))
        throw invalidConfig(
          `network ${name}: the pod asks for "${cap}", but no plugin of its configuration declares the "${cap}" capability`,
          `add "capabilities": {"${cap}": true} to the plugin that sets it (e.g. macvlan) in the definition's spec.config`,
        );
      caps[cap] = value;
    }
    plans.push({
      name,
      ifName: planned.ifName,
      list,
      capabilityArgs: caps,
      ...(s.cniArgs ? { cniArgs: s.cniArgs } : {}),
      ...(s.defaultRoute ? { defaultRoute: s.defaultRoute } : {}),
      cluster: false,
    });
  }
  return plans;
}
