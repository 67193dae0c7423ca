import type { LabNode } from "./topology.js";

/**
 * The lab's underlay MACs, chosen in the plan instead of read back from the kernel: with them the
 * static ARP of the underlay (underlay-neighbours.ts) is a pure plan, and `lab up` no longer asks
 * each node for its eth0's address in turn (one `ip` call per node, ~30 s at 200 nodes).
 *
 * Locally administered unicast (first octet 0x02: the U/L bit set, the I/G bit clear, IEEE 802
 * §8.2), so they never collide with a vendor's address; 02:5a:4c ("ZL", the lab) then a role byte
 * and the node's index: unique per node and per switch within a lab of up to 65,535 nodes.
 */
const labOui = "02:5a:4c";

const byte = (n: number) => n.toString(16).padStart(2, "0");

/** Node `index` (1-based, n1 is 1)'s eth0. */
export function labNodeMac(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 0xffff)
    throw new RangeError(`lab node index ${index}: expected a whole number from 1 to 65535`);
  return `${labOui}:00:${byte(index >> 8)}:${byte(index & 0xff)}`;
}

/** The switch (bridge `sw-<segment>`, the nodes' gateway) of a segment. */
export function labSwitchMac(segment: LabNode["segment"]): string {
  return `${labOui}:ff:00:${segment === "a" ? "0a" : "0b"}`;
}
