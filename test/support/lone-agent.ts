import { execFileSync } from "node:child_process";
import { pino } from "pino";
import { ClusterAgent, type ClusterAgentOptions } from "../../src/agent/cluster-agent.js";
import type { Backend } from "../../src/backends/api.js";
import { type HeldLease, SubnetLeases } from "../../src/cluster/subnet-leases.js";
import type { Datastore } from "../../src/datastore/api.js";
import { namedNetns } from "../../src/kernel/api.js";
import { createIproute2Kernel } from "../../src/kernel/iproute2/index.js";
import type { TestNamespaces } from "./netns.js";

const clusterCidr = "10.244.0.0/16";

/**
 * Node n1's agent, in-process, alone in a namespace of its own whose eth0 (one end of a veth
 * pair, both ends in it) has `address`/24: for tests of the agent's own passes, with a backend
 * that plans nothing. `o` goes over the defaults (no masquerade, silent, no repair tick).
 */
export function loneAgent(
  nss: TestNamespaces,
  address: string,
  store: Datastore,
  backend: Backend,
  signal: AbortSignal,
  o: Partial<ClusterAgentOptions> = {},
): ClusterAgent {
  const ns = nss.create("n1");
  const ip = (...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
  ip("link", "add", "eth0", "type", "veth", "peer", "name", "p0");
  ip("addr", "add", `${address}/24`, "dev", "eth0");
  ip("link", "set", "eth0", "up");
  ip("link", "set", "p0", "up");
  return new ClusterAgent({
    kernel: createIproute2Kernel(),
    store,
    hostNs: namedNetns(ns),
    node: "n1",
    clusterCidr,
    subnetLen: 24,
    underlayDev: "eth0",
    backend,
    leaseTtlSeconds: 86_400,
    resyncMs: 600_000,
    logger: pino({ level: "silent" }),
    signal,
    masquerade: false,
    ...o,
  });
}

/** Another node joins as its agent would: it leases a subnet of the lone agent's cluster. */
export function leaseFor(store: Datastore, node: string, publicIp: string): Promise<HeldLease> {
  return new SubnetLeases(store, { clusterCidr, subnetLen: 24 }).acquire({
    node,
    publicIp,
    publicPrefix: 24,
    backend: "recording",
    backendData: {},
    ttlSeconds: 86_400,
  });
}
