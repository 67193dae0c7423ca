import { CniError, CniErrorCode, invalidConfig } from "../../cni/errors.js";
import type { Kernel, Link, Netns } from "../../kernel/api.js";
import { kernelToCni } from "./kernel-errors.js";

/**
 * The node interface a secondary-network link (macvlan, ipvlan) hangs from: its "master". Found
 * in the namespace the plugin runs in — the node's — from the configuration, or else as the
 * interface of that namespace's default route (IPv4 first, then IPv6), as the reference plugins do.
 */

/** The device of the default route in `ns`, IPv4 before IPv6; undefined when there is none. */
export async function defaultRouteDevice(kernel: Kernel, ns: Netns): Promise<string | undefined> {
  for (const family of [4, 6] as const) {
    const routes = await kernel.routes(ns, { family });
    const dflt = routes.find((r) => r.dst === "default" && (r.dev || r.nexthops?.[0]?.dev));
    const dev = dflt?.dev ?? dflt?.nexthops?.[0]?.dev;
    if (dev) return dev;
  }
  return undefined;
}

/**
 * The master link: `configured` if given (it must exist), else the default route's interface.
 * Either missing is code 7: the configuration must name a master this node has.
 */
export async function resolveMaster(
  kernel: Kernel,
  ns: Netns,
  configured: string | undefined,
): Promise<Link> {
  let name = configured;
  try {
    if (name === undefined) {
      name = await defaultRouteDevice(kernel, ns);
      if (name === undefined) {
        throw invalidConfig(
          'no "master" given and the node has no default route to take it from',
          'set "master" to the node interface the attachments should hang from, e.g. "master": "eth1"',
        );
      }
    }
    const link = await kernel.link(ns, name);
    if (!link) {
      throw invalidConfig(
        `master ${name} does not exist on this node`,
        configured
          ? `set "master" to an interface of the node (ip link show), or leave it out to use the default route's`
          : 'the default route names an interface that is gone; set "master" explicitly',
      );
    }
    return link;
  } catch (err) {
    throw kernelToCni(err, "finding the master interface");
  }
}

/** An MTU above the master's is refused (the kernel would refuse it with a bare EINVAL): code 7. */
export function requireMtuWithinMaster(mtu: number | undefined, master: Link): void {
  if (mtu !== undefined && mtu > master.mtu) {
    throw invalidConfig(
      `mtu ${mtu} is larger than master ${master.name}'s MTU ${master.mtu}`,
      `set "mtu" to at most ${master.mtu}, or leave it out to inherit the master's`,
    );
  }
}

/** STATUS (CNI 1.1.0): a configured master that is missing means no ADD can succeed (code 50). */
export async function requireMasterForStatus(kernel: Kernel, ns: Netns, configured: string | undefined) {
  try {
    await resolveMaster(kernel, ns, configured);
  } catch (err) {
    const e = err instanceof CniError ? err : kernelToCni(err, "STATUS");
    throw new CniError(CniErrorCode.PluginNotAvailable, e.message, e.details, { cause: err });
  }
}
