import type { Command } from "commander";
import { BgpConfigStore } from "../cluster/bgp-config.js";
import { SubnetLeases } from "../cluster/subnet-leases.js";
import type { Datastore } from "../datastore/api.js";
import { openDatastore } from "./agent-wiring.js";
import { CommandError } from "./options.js";

export interface RouteReflectorsRequest {
  /** Node names to make the reflectors; [] with mesh: a full mesh. Absent: show. */
  readonly nodes?: readonly string[];
  /** Remove the datastore's topology: every agent goes back to its --bgp-route-reflectors. */
  readonly clear?: boolean;
  /** Accept names no node leases now (a node that is still to join). */
  readonly force?: boolean;
}

/**
 * `strata bgp route-reflectors`: show or set the cluster's reflectors in the datastore. Every bgp
 * agent follows it live (a reflector replaces its speaker; the others change their sessions),
 * so a full mesh becomes reflectors, or back, without restarting a node. Returns what to print.
 */
export async function routeReflectorsCommand(store: Datastore, r: RouteReflectorsRequest): Promise<string> {
  const config = new BgpConfigStore(store);
  if (r.clear) {
    const had = await config.clear();
    return had
      ? "removed the cluster's BGP topology: every agent follows its --bgp-route-reflectors again"
      : "no BGP topology was set in the datastore (agents follow their flags)";
  }
  if (r.nodes === undefined) {
    const v = await config.read();
    if (v.kind === "unset")
      return "not set in the datastore: each agent follows its --bgp-route-reflectors flag";
    if (v.kind === "invalid") return `refused by every agent (they follow their flags): ${v.error}`;
    const list = v.config.routeReflectors;
    return list.length === 0 ? "full mesh (set in the datastore)" : `route reflectors: ${list.join(", ")}`;
  }
  if (!r.force && r.nodes.length > 0) {
    const known = await new SubnetLeases(store, { clusterCidr: "0.0.0.0/0", subnetLen: 32 }).nodeNames();
    const unknown = r.nodes.filter((n) => !known.has(n));
    if (unknown.length > 0)
      throw new CommandError(
        `no node named ${unknown.join(", ")} holds a subnet lease: the other nodes would peer with a reflector that is not there (check the names with \`strata lab status\`, or pass --force for a node still to join)`,
      );
  }
  await config.write({ routeReflectors: r.nodes });
  return r.nodes.length === 0
    ? "full mesh, set in the datastore"
    : `route reflectors set: ${r.nodes.join(", ")}`;
}

/** `strata bgp route-reflectors [nodes] [--mesh | --clear] [--force] --datastore URL`. */
export function registerBgpTopologyCommand(program: Command): void {
  program
    .command("bgp")
    .description("the cluster's BGP topology in the datastore (every bgp agent follows it live)")
    .command("route-reflectors")
    .description(
      "show or set the nodes that reflect: `n1,n2` makes them the reflectors (the rest peer only with them), --mesh a full mesh, --clear hands it back to each agent's --bgp-route-reflectors",
    )
    .argument("[nodes]", "comma-separated node names")
    .option("--mesh", "a full mesh (no reflectors)")
    .option("--clear", "remove the setting from the datastore")
    .option("--force", "accept node names that hold no subnet lease yet")
    .requiredOption("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
    .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
    .option("--etcd-cert <file>", "etcd over https: a client certificate (PEM)")
    .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
    .action(
      async (
        nodes: string | undefined,
        o: {
          mesh?: boolean;
          clear?: boolean;
          force?: boolean;
          datastore: string;
          etcdCa?: string;
          etcdCert?: string;
          etcdKey?: string;
        },
      ) => {
        const chosen = [nodes !== undefined, o.mesh, o.clear].filter(Boolean).length;
        if (chosen > 1) throw new CommandError("give node names, --mesh or --clear: one of them");
        const list = nodes?.split(",").map((n) => n.trim());
        if (list?.some((n) => n === "")) throw new CommandError(`"${nodes}": an empty node name`);
        const store = openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey });
        try {
          console.log(
            await routeReflectorsCommand(store, {
              nodes: o.mesh ? [] : list,
              clear: o.clear,
              force: o.force,
            }),
          );
        } finally {
          await store.close();
        }
      },
    );
}
