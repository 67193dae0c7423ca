import type { NodeLease } from "../../src/cluster/node-lease.js";

/** A bgp node's lease as the loopback tests write it: `node` at `publicIp` (a /8 on lo), holding `subnet`. */
export const bgpLease = (node: string, subnet: string, publicIp: string): NodeLease => ({
  node,
  subnet,
  publicIp,
  publicPrefix: 8,
  backend: "bgp",
  backendData: {},
});

/** Node n`i`'s bgp lease: 10.244.`i`.0/24 at 192.168.10.`10 + i`/24, with `o` over it. */
export const numberedLease = (i: number, o: Partial<NodeLease> = {}): NodeLease => ({
  node: `n${i}`,
  subnet: `10.244.${i}.0/24`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  backend: "bgp",
  backendData: {},
  ...o,
});
