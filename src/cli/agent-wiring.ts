import type { Backend } from "../backends/api.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { createVxlanBackend } from "../backends/vxlan/vxlan.js";
import type { Datastore } from "../datastore/api.js";
import { connectEmbedded } from "../datastore/embedded/client.js";
import { connectEtcd } from "../datastore/etcd/etcd-store.js";

export interface AgentCliOptions {
  logLevel: string;
  node?: string;
  clusterCidr: string;
  subnetLen: string;
  backend: string;
  vxlanPort: string;
  vni: string;
  datastore?: string;
  underlayDev: string;
  stateDir?: string;
  leaseTtl: string;
  masquerade: boolean;
  healthPort: string;
}

/** The composition root of backends: registered here explicitly, by name. */
export function createBackend(name: string, node: string, vni: number, port: number): Backend {
  switch (name) {
    case "host-gw":
      return createHostGwBackend();
    case "vxlan":
      return createVxlanBackend({ vni, port, directRouting: false, node });
    case "vxlan-crosssubnet":
      return createVxlanBackend({ vni, port, directRouting: true, node });
    default:
      throw new Error(`unknown backend "${name}": use host-gw, vxlan or vxlan-crosssubnet`);
  }
}

export function openDatastore(url: string | undefined): Datastore {
  if (url?.startsWith("embedded:")) return connectEmbedded(url.slice("embedded:".length));
  if (url?.startsWith("etcd:")) return connectEtcd(url.slice("etcd:".length).split(","));
  throw new Error("--datastore must be embedded:<socket path> or etcd:<http://host:port,...>");
}
