import { type PluginRunner, pluginRunner } from "../cni/skeleton.js";
import type { BackgroundTasks } from "../common/background-tasks.js";
import type { Kernel } from "../kernel/api.js";
import { NftSession } from "../kernel/nft-session.js";
import type { PluginType } from "./catalog.js";
import { createStrataPlugin } from "./strata/plugin.js";
import { ipamPlugin } from "./strata-ipam/plugin.js";
import { createIpvlanPlugin } from "./strata-ipvlan/plugin.js";
import { createMacvlanPlugin } from "./strata-macvlan/plugin.js";
import { createSriovPlugin } from "./strata-sriov/plugin.js";

/**
 * The composition root of Strata's plugins: each type bound to its dependencies. Used by the
 * standalone executables and by the agent, so both run exactly the same code. `strata-ipam` is
 * linked into `strata` as a delegate, so the strata plugin calls its verbs in-process (no exec,
 * no JSON); an `ipam.type` of any other name is executed from CNI_PATH (cni/delegate.ts).
 */
export function composePlugins(
  kernel: Kernel,
  opts: { crashAfterStep?: string; background?: BackgroundTasks } = {},
): Record<PluginType, PluginRunner> {
  const linkedIpam = { linked: { "strata-ipam": ipamPlugin } };
  const strata = createStrataPlugin({
    kernel,
    delegates: linkedIpam,
    crashAfterStep: opts.crashAfterStep,
    background: opts.background,
    // A resident process (it has background tasks) keeps one nft session for the source guard.
    nft: opts.background ? new NftSession().run : undefined,
  });
  return {
    strata: pluginRunner(strata),
    "strata-ipam": pluginRunner(ipamPlugin),
    "strata-macvlan": pluginRunner(createMacvlanPlugin({ kernel, delegates: linkedIpam })),
    "strata-ipvlan": pluginRunner(createIpvlanPlugin({ kernel, delegates: linkedIpam })),
    "strata-sriov": pluginRunner(createSriovPlugin({ kernel, delegates: linkedIpam })),
  };
}
