import type { Kernel, KernelOp, Netns } from "../../kernel/api.js";

/**
 * The macvlan caveat: a macvlan cannot talk to its own master. The kernel passes frames between
 * sibling macvlans of one master (bridge mode) and between each of them and the wire, but a frame
 * the node sends out of the master never comes back up to the master's macvlans, and their
 * frames to the master's address are not delivered to it. So a node cannot reach its own pods'
 * macvlan addresses through the master's address.
 *
 * The usual fix, and what these helpers do: give the node a bridge-mode macvlan of its own on the
 * same master (a sibling of the pods' macvlans) with an address on the secondary network, and
 * route the pods' addresses through it. Other nodes' pods on that network are reached through it
 * too (it sends out of the master like any macvlan).
 */
export interface NodeMacvlan {
  /** The node's own macvlan (e.g. "mv-node"). */
  readonly name: string;
  readonly master: string;
  /**
   * Its address, with prefix length. A /32 (/128) keeps the master's connected route intact;
   * `podCidrs` then says where the pods are.
   */
  readonly address: string;
  /** Destinations reached through it (the secondary network's range, or each pod's address). */
  readonly podCidrs: readonly string[];
  readonly mtu?: number;
}

/**
 * Pure: the ops, idempotent (`ifAbsent`, `route.replace`), in the node's namespace. A route for
 * the same prefix as the master's connected route replaces it, so the node's traffic to that
 * range leaves through its macvlan (still out of the master, on the same wire).
 */
export function nodeMacvlanOps(n: NodeMacvlan): KernelOp[] {
  return [
    {
      op: "link.add",
      ifAbsent: true,
      spec: {
        kind: "macvlan",
        name: n.name,
        parent: n.master,
        mode: "bridge",
        ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
      },
    },
    { op: "addr.add", dev: n.name, cidr: n.address, ifAbsent: true, noDad: n.address.includes(":") },
    { op: "link.set", name: n.name, up: true },
    ...n.podCidrs.map(
      (dst): KernelOp => ({
        op: "route.replace",
        route: { dst, dev: n.name, src: n.address.split("/")[0] },
      }),
    ),
  ];
}

/** Give the node (namespace `ns`) a macvlan of its own on `master`, so it reaches its pods. */
export async function giveNodeMacvlan(kernel: Kernel, ns: Netns, n: NodeMacvlan): Promise<void> {
  await kernel.apply(ns, nodeMacvlanOps(n));
}

/** Remove it again (its routes go with it). */
export async function removeNodeMacvlan(kernel: Kernel, ns: Netns, name: string): Promise<void> {
  await kernel.apply(ns, [{ op: "link.delete", name, ifPresent: true }]);
}
