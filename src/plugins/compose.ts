import { dispatch, type PluginInvocation, type PluginOutcome } from "../cni/skeleton.js";
import type { BackgroundTasks } from "../common/background-tasks.js";
import type { Kernel } from "../kernel/api.js";
import { NftSession } from "../kernel/nft-session.js";
import type { PluginType } from "./catalog.js";
import { createStrataPlugin } from "./strata/plugin.js";
import { createIpamPlugin } from "./strata-ipam/plugin.js";

export type PluginRunner = (inv: PluginInvocation) => Promise<PluginOutcome>;

/**
 * The composition root of Strata's plugins: each type bound to its dependencies. Used by the
 * standalone executables and by the agent, so both run exactly the same code.
 */
export function composePlugins(
  kernel: Kernel,
  opts: { crashAfterStep?: string; background?: BackgroundTasks } = {},
): Record<PluginType, PluginRunner> {
  const ipamPlugin = createIpamPlugin();
  const ipam: PluginRunner = (inv) => dispatch(ipamPlugin, inv);
  const strata = createStrataPlugin({
    kernel,
    delegates: { inProcess: { "strata-ipam": ipam } },
    crashAfterStep: opts.crashAfterStep,
    background: opts.background,
    // A resident process (it has background tasks) keeps one nft session for the source guard.
    nft: opts.background ? new NftSession().run : undefined,
  });
  return {
    strata: (inv) => dispatch(strata, inv),
    "strata-ipam": ipam,
  };
}
