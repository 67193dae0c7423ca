import type { CniPlugin } from "../cni/skeleton.js";
import { type PluginRunner, pluginRunner } from "../cni/skeleton.js";
import type { BackgroundTasks } from "../common/background-tasks.js";
import { openDatastoreUrl } from "../datastore/datastore-url.js";
import type { Kernel, Netns } from "../kernel/api.js";
import { netnsPath } from "../kernel/iproute2/netns-args.js";
import { NftSession } from "../kernel/nft-session.js";
import type { PluginType } from "./catalog.js";
import { createStrataPlugin } from "./strata/plugin.js";
import { createClusterIpamPlugin } from "./strata-cluster-ipam/plugin.js";
import { ipamPlugin } from "./strata-ipam/plugin.js";
import { createIpvlanPlugin } from "./strata-ipvlan/plugin.js";
import { createMacvlanPlugin } from "./strata-macvlan/plugin.js";
import { createMultiPlugin } from "./strata-multi/plugin.js";
import { createSriovPlugin } from "./strata-sriov/plugin.js";

/** How to start nft in `ns` (this process's own namespace when absent). */
function nftIn(ns: Netns | undefined): string[] {
  const path = ns ? netnsPath(ns) : undefined;
  return path === undefined ? ["nft"] : ["nsenter", `--net=${path}`, "nft"];
}

/**
 * The composition root of Strata's plugins: each type bound to its dependencies. Used by the
 * standalone executables and by the agent, so both run exactly the same code. `strata-ipam` is
 * linked into `strata` as a delegate, so the strata plugin calls its verbs in-process (no exec,
 * no JSON); an `ipam.type` of any other name is executed from CNI_PATH (cni/delegate.ts). The
 * meta plugin `strata-multi` links every other Strata plugin the same way; foreign delegates
 * (bridge, macvlan, host-local, ...) run from CNI_PATH.
 */
export function composePlugins(
  kernel: Kernel,
  opts: {
    crashAfterStep?: string;
    background?: BackgroundTasks;
    /** The node's namespace when this process lives elsewhere (an agent host's agent); absent: its own. */
    hostNs?: Netns;
  } = {},
): Record<PluginType, PluginRunner> {
  const clusterIpam = createClusterIpamPlugin({ openStore: openDatastoreUrl });
  const ipamLinked = { "strata-ipam": ipamPlugin, "strata-cluster-ipam": clusterIpam } as Record<
    string,
    CniPlugin<unknown>
  >;
  const strata = createStrataPlugin({
    kernel,
    delegates: { linked: ipamLinked },
    crashAfterStep: opts.crashAfterStep,
    background: opts.background,
    // A resident process (it has background tasks) keeps one nft session for the source guard,
    // inside the node's namespace.
    nft: opts.background ? new NftSession(nftIn(opts.hostNs)).run : undefined,
    ...(opts.hostNs ? { hostNs: opts.hostNs } : {}),
  });
  const multi = createMultiPlugin({
    kernel,
    linked: { ...ipamLinked, strata: strata as CniPlugin<unknown> },
    openStore: openDatastoreUrl,
  });
  return {
    strata: pluginRunner(strata),
    "strata-ipam": pluginRunner(ipamPlugin),
    "strata-macvlan": pluginRunner(createMacvlanPlugin({ kernel, delegates: { linked: ipamLinked } })),
    "strata-ipvlan": pluginRunner(createIpvlanPlugin({ kernel, delegates: { linked: ipamLinked } })),
    "strata-sriov": pluginRunner(createSriovPlugin({ kernel, delegates: { linked: ipamLinked } })),
    "strata-multi": pluginRunner(multi),
    "strata-cluster-ipam": pluginRunner(clusterIpam),
  };
}
