import type { CniPlugin } from "../../cni/skeleton.js";
import { type ChildLinkPluginDeps, createChildLinkPlugin } from "../toolkit/child-link-plugin.js";
import { type IpvlanConfig, parseIpvlanConfig } from "./config.js";
import { explainIpvlanRefusal, ipvlanLinkOp, ipvlanMismatch, ipvlanStatus } from "./plan.js";

/**
 * `strata-ipvlan`: the pod's interface is an ipvlan of a node interface (modes l2, l3, l3s). It
 * needs the kernel's ipvlan driver; where that is missing ADD fails with code 101 naming it and
 * STATUS answers 50, before any address is reserved.
 */
export function createIpvlanPlugin(deps: ChildLinkPluginDeps): CniPlugin<IpvlanConfig> {
  return createChildLinkPlugin<IpvlanConfig>(
    {
      type: "strata-ipvlan",
      parseConfig: parseIpvlanConfig,
      linkOp: ipvlanLinkOp,
      explainRefusal: explainIpvlanRefusal,
      linkMismatch: ipvlanMismatch,
      async status(kernel) {
        const refusal = ipvlanStatus(await kernel.probe());
        if (refusal) throw refusal;
      },
    },
    deps,
  );
}
