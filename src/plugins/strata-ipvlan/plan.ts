import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { KernelCapabilities, KernelOp, Link } from "../../kernel/api.js";
import type { KernelError } from "../../kernel/errors.js";
import type { ChildLinkPlacement } from "../toolkit/child-link-plugin.js";
import type { IpvlanConfig } from "./config.js";

/**
 * Pure: the ipvlan for a pod, made on the master straight inside the pod's namespace. An ipvlan
 * has no MAC of its own (it shares the master's), so no MAC is ever set.
 */
export function ipvlanLinkOp(c: IpvlanConfig, at: ChildLinkPlacement): KernelOp {
  return {
    op: "link.add",
    spec: {
      kind: "ipvlan",
      name: at.ifName,
      parent: at.master,
      mode: c.mode,
      netns: at.podNetns,
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    },
  };
}

/**
 * A kernel without the ipvlan driver (CONFIG_IPVLAN neither built in nor loadable) answers
 * "Unknown device type". That is Strata's code 101, KernelUnsupported, and not the spec's 7: the
 * configuration is right and works on a node whose kernel has the module; and not 11 (try again
 * later) or 50 (a STATUS code): retrying will not help on this node, only another kernel.
 */
export function ipvlanUnsupported(detail: string): CniError {
  return new CniError(
    CniErrorCode.KernelUnsupported,
    "this kernel has no ipvlan link type (kernel feature CONFIG_IPVLAN, module ipvlan)",
    `load or build the ipvlan module on this node (modprobe ipvlan), or use strata-macvlan; ${detail}`,
  );
}

export function explainIpvlanRefusal(err: KernelError, _c: IpvlanConfig, master: Link): CniError | undefined {
  if (err.kind === "unsupported") return ipvlanUnsupported(err.message);
  if (err.kind === "invalid" || err.kind === "failed") {
    // One master carries ipvlans of one mode only, and no macvlan beside them.
    return new CniError(
      CniErrorCode.InvalidNetworkConfig,
      `ipvlan on master ${master.name} refused`,
      `a master carries ipvlans of a single mode and no macvlans: check the other networks on ${master.name} (kernel: ${err.message})`,
    );
  }
  return undefined;
}

/** STATUS: with no ipvlan in the kernel no ADD can succeed (code 50, "not available"). */
export function ipvlanStatus(caps: KernelCapabilities): CniError | undefined {
  if (caps.linkKinds.ipvlan) return undefined;
  const e = ipvlanUnsupported("found by the kernel capability probe");
  return new CniError(CniErrorCode.PluginNotAvailable, e.message, e.details);
}

/** CHECK: the pod's link is an ipvlan (iproute2 shows its mode only in -details text). */
export function ipvlanMismatch(link: Link, _c: IpvlanConfig): string | undefined {
  return link.kind === "ipvlan" ? undefined : `is a ${link.kind ?? "physical"} link, not an ipvlan`;
}
