import type { LabSpec } from "../../src/lab/topology.js";

/** A lab for tests: the lab's own defaults (3 nodes, 2 pods each, vxlan on l2, embedded store), changed by `o`. */
export const labSpec = (o: Partial<LabSpec> = {}): LabSpec => ({
  model: "vxlan",
  nodes: 3,
  podsPerNode: 2,
  underlay: "l2",
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
  ...o,
});

/** labUp's progress callback for tests: run each step, print nothing. */
export const quietProgress = <T>(_label: string, fn: () => Promise<T>): Promise<T> => fn();
