import type { CniPlugin } from "../../cni/skeleton.js";
import { type ChildLinkPluginDeps, createChildLinkPlugin } from "../toolkit/child-link-plugin.js";
import { type MacvlanConfig, parseMacvlanConfig } from "./config.js";
import { explainMacvlanRefusal, macvlanLinkOp, macvlanMismatch } from "./plan.js";

/**
 * `strata-macvlan`: the pod's interface is a macvlan of a node interface (the master), in the
 * pod's own MAC on the master's L2 segment. A macvlan cannot reach its parent (the kernel hands
 * frames between the master and its macvlans to neither); see node-reach.ts for the node's side.
 */
export function createMacvlanPlugin(deps: ChildLinkPluginDeps): CniPlugin<MacvlanConfig> {
  return createChildLinkPlugin<MacvlanConfig>(
    {
      type: "strata-macvlan",
      parseConfig: parseMacvlanConfig,
      linkOp: macvlanLinkOp,
      explainRefusal: explainMacvlanRefusal,
      linkMismatch: macvlanMismatch,
    },
    deps,
  );
}
