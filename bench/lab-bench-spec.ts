import type { LabSpec } from "../src/lab/topology.js";

/**
 * The lab the scale benches bring up: `nodes` nodes on the l2 underlay, no pods, the embedded
 * store, 10.244.0.0/16. `model` is a lab model, or `bgp-rrK` for the bgp model with K route
 * reflectors (the convergence bench's rows).
 */
export function benchLabSpec(model: string, nodes: number): LabSpec {
  const rr = /^bgp-rr(\d+)$/.exec(model);
  return {
    model: rr ? "bgp" : (model as LabSpec["model"]),
    nodes,
    podsPerNode: 0,
    underlay: "l2",
    datastore: "embedded",
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
    ...(rr ? { routeReflectors: Number(rr[1]) } : {}),
  };
}
