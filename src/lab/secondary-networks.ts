import type { ConfList } from "../cni/runtime-client.js";
import { type NetworkAttachmentDefinition, nadApiVersion, nadKind } from "../netattach/nad.js";
import { flagValue } from "./control.js";
import { labDir } from "./state.js";

/**
 * `lab up --attach NAME[,NAME…]`: each name a secondary network over the l2 underlay — a
 * NetworkAttachmentDefinition whose delegate (`attachPlugin`, macvlan by default) hangs off each
 * node's underlay interface (eth0) in bridge mode, its addresses from one cluster-wide pool
 * (strata-cluster-ipam in the lab's datastore), so pods on different nodes share one subnet and
 * talk over the underlay's switch. Every pod asks for all of them; the meta plugin (strata-multi)
 * attaches them as net1, net2, … after the cluster network on eth0.
 */
export interface SecondaryNetwork {
  readonly name: string;
  readonly subnet: string;
  readonly ifName: string;
}

/** The namespace the lab's pods and definitions live in (as Kubernetes' "default"). */
export const labPodNamespace = "default";

/** Pure: each attached network's subnet (10.100.0.0/24, 10.101.0.0/24, …) and interface. */
export function planSecondaryNetworks(names: readonly string[]): SecondaryNetwork[] {
  return names.map((name, i) => ({ name, subnet: `10.${100 + i}.0.0/24`, ifName: `net${i + 1}` }));
}

/** The plugin keys that reach the lab's datastore, from the agents' flags (URL and TLS files). */
export function datastoreKeys(agentDatastoreArgs: readonly string[]): Record<string, string> {
  const keys: Record<string, string> = { datastore: flagValue(agentDatastoreArgs, "--datastore") ?? "" };
  for (const [flag, key] of [
    ["--etcd-ca", "etcdCa"],
    ["--etcd-cert", "etcdCert"],
    ["--etcd-key", "etcdKey"],
  ] as const) {
    const v = flagValue(agentDatastoreArgs, flag);
    if (v) keys[key] = v;
  }
  return keys;
}

/** Pure: the definition of one secondary network. */
export function secondaryNad(
  net: SecondaryNetwork,
  attachPlugin: string,
  agentDatastoreArgs: readonly string[],
): NetworkAttachmentDefinition {
  const config = {
    cniVersion: "1.0.0",
    name: net.name,
    type: attachPlugin,
    master: "eth0",
    mode: "bridge",
    ipam: {
      type: "strata-cluster-ipam",
      ...datastoreKeys(agentDatastoreArgs),
      ranges: [[{ subnet: net.subnet }]],
    },
  };
  return {
    apiVersion: nadApiVersion,
    kind: nadKind,
    metadata: { name: net.name, namespace: labPodNamespace },
    spec: { config: JSON.stringify(config) },
  };
}

/** Where a node's meta-plugin list and attachment cache live. */
export const multiConfListPath = (node: string): string => `${labDir}/${node}/00-multi.conflist`;

/** Pure: a node's `strata-multi` list: the node's strata list as the cluster network. */
export function multiConfList(
  node: string,
  cniVersion: string,
  agentDatastoreArgs: readonly string[],
): ConfList {
  return {
    cniVersion,
    name: "multi",
    plugins: [
      {
        type: "strata-multi",
        ...datastoreKeys(agentDatastoreArgs),
        clusterNetwork: `${labDir}/${node}/10-strata.conflist`,
        nodeName: node,
        cacheDir: `${labDir}/${node}/multi-cache`,
      },
    ],
  };
}
