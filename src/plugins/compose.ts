import type { CniPlugin } from "../cni/skeleton.js";
import { type PluginRunner, pluginRunner } from "../cni/skeleton.js";
import type { BackgroundTasks } from "../common/background-tasks.js";
import { openDatastoreUrl } from "../datastore/datastore-url.js";
import { currentNetns, type Kernel, type Netns, netnsPath } from "../kernel/api.js";
import { type NftScriptRunner, NftSession, nftArgv } from "../kernel/nft-session.js";
import type { NfNetlink } from "../kernel/nftables/apply.js";
import type { PluginType } from "./catalog.js";
import { createStrataPlugin } from "./strata/plugin.js";
import { netlinkGuardWriter, nftTextWriter } from "./strata/source-guard-writer.js";
import { createClusterIpamPlugin } from "./strata-cluster-ipam/plugin.js";
import { ipamPlugin } from "./strata-ipam/plugin.js";
import { createIpvlanPlugin } from "./strata-ipvlan/plugin.js";
import { createMacvlanPlugin } from "./strata-macvlan/plugin.js";
import { createMultiPlugin } from "./strata-multi/plugin.js";
import { createSriovPlugin } from "./strata-sriov/plugin.js";

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
    /**
     * The node's namespace when it is not this process's (an agent host runs agents for other
     * namespaces): every plugin acts on it, executed delegates and nft run inside it.
     */
    hostNs?: Netns;
    /** The source guard's nft writes (a resident session the caller owns and closes). */
    nft?: NftScriptRunner;
    /** The source guard's writes over nf_tables netlink, in the node's namespace (instead of nft). */
    nfNetlink?: NfNetlink;
  } = {},
): Record<PluginType, PluginRunner> {
  const hostNs = opts.hostNs ?? currentNetns;
  const nsPath = netnsPath(hostNs);
  const clusterIpam = createClusterIpamPlugin({ openStore: openDatastoreUrl });
  const ipamLinked = { "strata-ipam": ipamPlugin, "strata-cluster-ipam": clusterIpam } as Record<
    string,
    CniPlugin<unknown>
  >;
  const delegates = { linked: ipamLinked, netnsPath: nsPath };
  /**
   * The source guard's writes: netlink when given; else the caller's nft session; else, in a
   * resident process (it has background tasks), a session of our own; else a `nft -f` per write.
   */
  const guardWriter = () => {
    if (opts.nfNetlink) return netlinkGuardWriter(opts.nfNetlink);
    const nft = opts.nft ?? (opts.background ? new NftSession(nftArgv(hostNs)).run : undefined);
    return nft ? nftTextWriter(nft) : undefined;
  };
  const strata = createStrataPlugin({
    kernel,
    hostNs,
    delegates,
    crashAfterStep: opts.crashAfterStep,
    background: opts.background,
    guardWriter: guardWriter(),
  });
  const multi = createMultiPlugin({
    kernel,
    linked: { ...ipamLinked, strata: strata as CniPlugin<unknown> },
    openStore: openDatastoreUrl,
    netnsPath: nsPath,
  });
  return {
    strata: pluginRunner(strata),
    "strata-ipam": pluginRunner(ipamPlugin),
    "strata-macvlan": pluginRunner(createMacvlanPlugin({ kernel, hostNs, delegates })),
    "strata-ipvlan": pluginRunner(createIpvlanPlugin({ kernel, hostNs, delegates })),
    "strata-sriov": pluginRunner(createSriovPlugin({ kernel, hostNs, delegates })),
    "strata-multi": pluginRunner(multi),
    "strata-cluster-ipam": pluginRunner(clusterIpam),
  };
}
