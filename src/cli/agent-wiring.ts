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
import { CommandError, UsageError } from "./options.js";

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

/** The composition root of backends: registered here explicitly, by name. */
export function createBackend(o: AgentCliOptions, node: string): Backend {
  const vni = Number(o.vni);
  const port = Number(o.vxlanPort);
  switch (o.backend) {
    case "bgp": {
      // Secrets are read and TCP-MD5 support checked here, before the agent leases anything.
      const meshMd5Key = o.bgpPasswordFile ? readPasswordFile(o.bgpPasswordFile) : undefined;
      if (meshMd5Key) checkProtection("mesh (--bgp-password-file)", { md5Key: meshMd5Key });
      const external = o.bgpPeer.map((s) => withPassword(parsePeerSpec(s), readPasswordFile));
      for (const p of external) checkProtection(p.address, p);
      return new BgpBackend({
        asn: Number(o.bgpAsn),
        mesh: o.bgpMesh,
        routeReflectors: o.bgpRouteReflectors?.split(",").filter(Boolean) ?? [],
        external,
        meshMd5Key,
        clusterId: o.bgpClusterId,
        holdTime: Number(o.bgpHold),
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
      throw new UsageError(
        "--backend",
        `unknown backend "${o.backend}": use host-gw, vxlan, vxlan-crosssubnet or bgp`,
      );
  }
}

/** The datastore of `--datastore` (with `--etcd-ca/--etcd-cert/--etcd-key` for etcd over TLS). */
export function openDatastore(url: string | undefined, etcdTls: EtcdTlsFiles = {}): Datastore {
  if (url?.startsWith("embedded:")) return connectEmbedded(url.slice("embedded:".length));
  if (url?.startsWith("etcd:")) {
    const endpoints = url.slice("etcd:".length).split(",");
    return connectEtcd(endpoints, loadEtcdTls(endpoints, etcdTls));
  }
  throw new UsageError("--datastore", "must be embedded:<socket path> or etcd:<https://host:port,...>");
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
