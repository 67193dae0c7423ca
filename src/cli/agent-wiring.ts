import type { Backend, PodAttachment } from "../backends/api.js";
import {
  type BackendDefinition,
  type BackendDeps,
  type BackendFlagValues,
  createBackendFrom,
} from "../backends/definition.js";
import { backendRegistry, findBackend } from "../backends/registry.js";
import { checkSubnetLen6, parseClusterCidrs } from "../cluster/cluster-cidrs.js";
import { heartbeatKey } from "../cluster/heartbeats.js";
import { SubnetLeases } from "../cluster/subnet-leases.js";
import type { Datastore } from "../datastore/api.js";
import { connectEmbedded } from "../datastore/embedded/client.js";
import { connectEtcd } from "../datastore/etcd/etcd-store.js";
import { type EtcdTlsFiles, loadEtcdTls } from "../datastore/etcd/etcd-tls.js";
import {
  CommandError,
  cidrValue,
  flagCheck,
  intInRange,
  oneOf,
  portNumber,
  positiveInt,
  UsageError,
} from "./options.js";

/** The agent's own flags (each backend's flags come from the registry: BackendFlagValues). */
export interface AgentCliOptions {
  logLevel: string;
  node?: string;
  clusterCidr: string;
  subnetLen: string;
  subnetLen6?: string;
  backend: string;
  datastore?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  underlayDev: string;
  stateDir?: string;
  leaseTtl: string;
  heartbeatTtl: string;
  datastoreTimeout: string;
  resyncInterval: string;
  fullResyncInterval?: string;
  routeChangeWindow?: string;
  masquerade: boolean;
  podAttachment: string;
  healthPort: string;
  cniBinDir: string;
  cniSocketDir: string;
  cniMaxRequests: string;
  cniReadTimeout: string;
  spawnHelpers?: string;
  kernelDriver?: string;
}

/** The agent's numeric and prefix flags, checked before anything starts (a bad one: UsageError, exit 2). */
export interface AgentFlagValues {
  readonly healthPort: number;
  /** The primary cluster CIDR: IPv4 (IPv4-only or dual stack), or IPv6 on an IPv6-only cluster. */
  readonly clusterCidr: string;
  /** Per-node prefix length in clusterCidr (--subnet-len; --subnet-len6 on an IPv6-only cluster). */
  readonly subnetLen: number;
  /** Dual stack: the cluster's IPv6 CIDR (from a `--cluster-cidr` list) and per-node length. */
  readonly clusterCidr6?: string;
  readonly subnetLen6?: number;
  readonly leaseTtlSeconds: number;
  readonly heartbeatTtlSeconds: number;
  readonly datastoreTimeoutSeconds: number;
  readonly resyncSeconds: number;
  readonly fullResyncSeconds: number;
  readonly routeChangeWindowMs: number;
  readonly cniMaxRequests: number;
  readonly cniReadTimeoutMs: number;
  /** Helper processes that fork/exec for the agent (src/shim/spawn-helper.c). */
  readonly spawnHelpers: number;
  /** undefined: the backend's choice (`auto`). */
  readonly podAttachment?: PodAttachment;
  /** How routes, neighbours and FDB entries are written: rtnetlink in-process, or iproute2 alone. */
  readonly kernelDriver: "rtnetlink" | "iproute2";
}

const podAttachmentFlag = (value: string | undefined): { podAttachment?: PodAttachment } => {
  const choice = oneOf("--pod-attachment", value ?? "auto", ["auto", "bridge", "routed"] as const);
  return choice === "auto" ? {} : { podAttachment: choice };
};

/** Pure: the agent flags that are numbers or prefixes, checked. */
export function checkAgentFlags(o: AgentCliOptions): AgentFlagValues {
  const cidrs = flagCheck(() => parseClusterCidrs(o.clusterCidr));
  const six = cidrs.ipv6;
  const subnetLen6 = () => flagCheck(() => checkSubnetLen6(six ?? "", Number(o.subnetLen6 ?? "64")));
  // IPv6-only: the IPv6 CIDR is the cluster's primary (and only) one, each node a --subnet-len6 of it.
  const primary = cidrs.ipv4
    ? (() => {
        const clusterCidr = cidrValue("--cluster-cidr", cidrs.ipv4);
        const clusterPrefix = Number(clusterCidr.split("/")[1]);
        // A node's subnet lies inside the cluster's; /31 and /32 leave no room for pods and a gateway.
        return { clusterCidr, subnetLen: intInRange("--subnet-len", o.subnetLen, clusterPrefix, 30) };
      })()
    : { clusterCidr: six ?? "", subnetLen: subnetLen6() };
  return {
    ...(cidrs.ipv4 && six ? { clusterCidr6: six, subnetLen6: subnetLen6() } : {}),
    // 0 turns the health server off.
    healthPort: portNumber("--health-port", o.healthPort, true),
    ...primary,
    leaseTtlSeconds: positiveInt("--lease-ttl", o.leaseTtl),
    heartbeatTtlSeconds: positiveInt("--heartbeat-ttl", o.heartbeatTtl),
    datastoreTimeoutSeconds: positiveInt("--datastore-timeout", o.datastoreTimeout),
    resyncSeconds: positiveInt("--resync-interval", o.resyncInterval),
    fullResyncSeconds: positiveInt("--full-resync-interval", o.fullResyncInterval ?? "60"),
    routeChangeWindowMs: intInRange("--route-change-window", o.routeChangeWindow ?? "250", 0, 10_000),
    cniMaxRequests: positiveInt("--cni-max-requests", o.cniMaxRequests),
    cniReadTimeoutMs: positiveInt("--cni-read-timeout", o.cniReadTimeout),
    spawnHelpers: intInRange("--spawn-helpers", o.spawnHelpers ?? "8", 1, 64),
    kernelDriver: oneOf("--kernel-driver", o.kernelDriver ?? "rtnetlink", ["rtnetlink", "iproute2"] as const),
    ...podAttachmentFlag(o.podAttachment),
  };
}

/**
 * The backend `--backend` names, from the registry: it reads its own flags from `o` and checks
 * them with its schema. A bad value, or a problem with what a flag names (an unreadable password
 * file), is a UsageError naming the flag (exit 2), before the agent leases anything. `parts` are
 * the concrete parts a backend may use (the tc-BPF tunnel datapath).
 */
export function createBackend(
  o: Pick<AgentCliOptions, "backend"> & BackendFlagValues,
  node: string,
  registry: readonly BackendDefinition[] = backendRegistry,
  parts: Omit<BackendDeps, "node"> = {},
  /** The cluster CIDR has an IPv6 part (dual stack or IPv6-only): the backend must route IPv6 pod subnets. */
  dualStack = false,
): Backend {
  const def = findBackend(registry, o.backend);
  if (!def)
    throw new UsageError(
      "--backend",
      `"${o.backend}" is not one of ${registry.map((d) => d.name).join(", ")}`,
    );
  // Pods would get IPv6 addresses that no other node routes to.
  if (dualStack && !def.dualStack)
    throw new UsageError(
      "--cluster-cidr",
      `the ${def.name} backend routes no IPv6 pod subnets: dual stack and IPv6-only clusters work with ${registry
        .filter((d) => d.dualStack)
        .map((d) => d.name)
        .join(", ")}; give an IPv4 CIDR alone`,
    );
  return flagCheck(() => createBackendFrom(def, o, { ...parts, node }));
}

/** The datastore of `--datastore` (with `--etcd-ca/--etcd-cert/--etcd-key` for etcd over TLS). */
export function openDatastore(url: string | undefined, etcdTls: EtcdTlsFiles = {}): Datastore {
  if (url?.startsWith("embedded:") && url.length > "embedded:".length)
    return flagCheck(() => connectEmbedded(url.slice("embedded:".length)));
  if (url?.startsWith("etcd:")) {
    const endpoints = url.slice("etcd:".length).split(",");
    return connectEtcd(
      endpoints,
      flagCheck(() => loadEtcdTls(endpoints, etcdTls)),
    );
  }
  throw new UsageError(
    "--datastore",
    `${url === undefined ? "missing" : `"${url}" is not embedded:<socket path> or etcd:<https://host:port,...>`} (needed with --node)`,
  );
}

/**
 * `strata node remove NAME`: delete the node's subnet lease (every key whose value names it) and
 * its heartbeat; every other node then withdraws its routes. Returns the keys removed.
 */
export async function removeNode(store: Datastore, name: string): Promise<string[]> {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name))
    throw new UsageError(
      "NAME",
      `"${name}" is not a node name (a DNS subdomain: lowercase letters, digits, '-', '.')`,
    );
  // Any cluster policy will do: removal looks at the name each value carries, not at its validity.
  const removed = await new SubnetLeases(store, { clusterCidr: "0.0.0.0/0", subnetLen: 32 }).removeNode(name);
  const beat = heartbeatKey(name);
  if (await store.delete(beat)) removed.push(beat);
  if (removed.length === 0)
    throw new CommandError(`no subnet lease or heartbeat of node ${name} in the datastore`);
  return removed;
}
