import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { KernelOp, Link } from "../../kernel/api.js";
import type { KernelError } from "../../kernel/errors.js";
import type { ChildLinkPlacement } from "../toolkit/child-link-plugin.js";
import type { MacvlanConfig } from "./config.js";

/**
 * Pure: the macvlan for a pod, made on the master straight inside the pod's namespace under its
 * final name (so the name never clashes with one of the node's).
 */
export function macvlanLinkOp(c: MacvlanConfig, at: ChildLinkPlacement): KernelOp {
  // The pod's own MAC (the runtime's, the configuration's, else a fresh one), so ADD need not read
  // it back. Not in passthru mode: there the macvlan has the master's, and setting one would
  // change the master's own MAC.
  const mac = at.mac ?? c.mac ?? (c.mode === "passthru" ? undefined : at.freshMac);
  return {
    op: "link.add",
    spec: {
      kind: "macvlan",
      name: at.ifName,
      parent: at.master,
      mode: c.mode,
      netns: at.podNetns,
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
      ...(mac !== undefined ? { mac } : {}),
    },
  };
}

/**
 * The kernel answers a second macvlan on a master that has a passthru one, or a passthru one on a
 * master that has others, with a bare EINVAL (drivers/net/macvlan.c: passthru takes the port
 * alone). The MTU is checked before, so on this op EINVAL means that rule; code 7, since the
 * configuration asks for something this master cannot give a second pod.
 */
export function explainMacvlanRefusal(
  err: KernelError,
  c: MacvlanConfig,
  master: Link,
): CniError | undefined {
  if (err.kind !== "invalid") return undefined;
  return new CniError(
    CniErrorCode.InvalidNetworkConfig,
    c.mode === "passthru"
      ? `macvlan mode passthru: master ${master.name} already has a macvlan (passthru takes the master for one pod alone)`
      : `macvlan on master ${master.name} refused: the master is held by a passthru macvlan, which allows no other`,
    `one passthru macvlan per master: give each such pod its own master, or use "mode": "bridge" to share one (kernel: ${err.message})`,
  );
}

/** CHECK: the pod's link is a macvlan in the configured mode. */
export function macvlanMismatch(link: Link, c: MacvlanConfig): string | undefined {
  if (link.kind !== "macvlan") return `is a ${link.kind ?? "physical"} link, not a macvlan`;
  if (link.macvlan && link.macvlan.mode !== c.mode)
    return `is in mode ${link.macvlan.mode}, expected ${c.mode}`;
  return undefined;
}
