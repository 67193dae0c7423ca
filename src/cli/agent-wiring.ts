import type { Backend } from "../backends/api.js";
import { BgpBackend } from "../backends/bgp/bgp.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { createVxlanBackend } from "../backends/vxlan/vxlan.js";
import { parsePeerSpec, withPassword } from "../bgp/speaker/peer-spec.js";
import { checkProtection, readPasswordFile } from "../bgp/speaker/tcp-security.js";
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
  ipv4Address,
  portNumber,
  positiveInt,
  UsageError,
} from "./options.js";

export interface AgentCliOptions {
  logLevel: string;
  node?: string;
  clusterCidr: string;
  subnetLen: string;
  backend: string;
  vxlanPort: string;
  vni: string;
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
  masquerade: boolean;
  healthPort: string;
  cniBinDir: string;
  cniSocketDir: string;
  cniMaxRequests: string;
  cniReadTimeout: string;
  bgpAsn: string;
  bgpPeer: string[];
  bgpMesh: boolean;
  bgpRouteReflectors?: string;
  bgpClusterId: string;
  bgpHold: string;
  bgpPasswordFile?: string;
}

/** The agent's numeric and prefix flags, checked before anything starts (a bad one: UsageError, exit 2). */
export interface AgentFlagValues {
  readonly healthPort: number;
  readonly clusterCidr: string;
  readonly subnetLen: number;
  readonly leaseTtlSeconds: number;
  readonly heartbeatTtlSeconds: number;
  readonly datastoreTimeoutSeconds: number;
  readonly resyncSeconds: number;
  readonly cniMaxRequests: number;
  readonly cniReadTimeoutMs: number;
}

/** Pure: the agent flags that are numbers or prefixes, checked. */
export function checkAgentFlags(o: AgentCliOptions): AgentFlagValues {
  const clusterCidr = cidrValue("--cluster-cidr", o.clusterCidr);
  const clusterPrefix = Number(clusterCidr.split("/")[1]);
  return {
    // 0 turns the health server off.
    healthPort: portNumber("--health-port", o.healthPort, true),
    clusterCidr,
    // A node's subnet lies inside the cluster's; /31 and /32 leave no room for pods and a gateway.
    subnetLen: intInRange("--subnet-len", o.subnetLen, clusterPrefix, 30),
    leaseTtlSeconds: positiveInt("--lease-ttl", o.leaseTtl),
    heartbeatTtlSeconds: positiveInt("--heartbeat-ttl", o.heartbeatTtl),
    datastoreTimeoutSeconds: positiveInt("--datastore-timeout", o.datastoreTimeout),
    resyncSeconds: positiveInt("--resync-interval", o.resyncInterval),
    cniMaxRequests: positiveInt("--cni-max-requests", o.cniMaxRequests),
    cniReadTimeoutMs: positiveInt("--cni-read-timeout", o.cniReadTimeout),
  };
}

export const backendNames = ["host-gw", "vxlan", "vxlan-crosssubnet", "bgp"] as const;

/** The composition root of backends: registered here explicitly, by name. */
export function createBackend(o: AgentCliOptions, node: string): Backend {
  if (!(backendNames as readonly string[]).includes(o.backend))
    throw new UsageError("--backend", `"${o.backend}" is not one of ${backendNames.join(", ")}`);
  // RFC 7348 §5: the VNI is 24 bits.
  const vni = intInRange("--vni", o.vni, 1, 0xffffff);
  const port = portNumber("--vxlan-port", o.vxlanPort);
  switch (o.backend) {
    case "bgp": {
      const asn = intInRange("--bgp-asn", o.bgpAsn, 1, 0xffffffff);
      // RFC 4271 §4.2: the hold time is 0 or at least 3 seconds.
      const holdTime = intInRange("--bgp-hold", o.bgpHold, 0, 65535);
      if (holdTime > 0 && holdTime < 3)
        throw new UsageError("--bgp-hold", `"${o.bgpHold}" must be 0 or 3 to 65535`);
      const clusterId = ipv4Address("--bgp-cluster-id", o.bgpClusterId);
      // Secrets are read and TCP-MD5 support checked here, before the agent leases anything.
      const { meshMd5Key, external } = flagCheck(() => {
        const meshMd5Key = o.bgpPasswordFile ? readPasswordFile(o.bgpPasswordFile) : undefined;
        if (meshMd5Key) checkProtection("mesh (--bgp-password-file)", { md5Key: meshMd5Key });
        const external = o.bgpPeer.map((s) => withPassword(parsePeerSpec(s), readPasswordFile));
        for (const p of external) checkProtection(p.address, p);
        return { meshMd5Key, external };
      });
      return new BgpBackend({
        asn,
        mesh: o.bgpMesh,
        routeReflectors: o.bgpRouteReflectors?.split(",").filter(Boolean) ?? [],
        external,
        meshMd5Key,
        clusterId,
        holdTime,
        connectRetrySeconds: 1,
        port: 179,
      });
    }
    case "host-gw":
      return createHostGwBackend();
    case "vxlan":
      return createVxlanBackend({ vni, port, directRouting: false, node });
    case "vxlan-crosssubnet":
      return createVxlanBackend({ vni, port, directRouting: true, node });
    default:
      throw new UsageError("--backend", `"${o.backend}" is not one of ${backendNames.join(", ")}`);
  }
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
