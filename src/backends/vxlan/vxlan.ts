import type { NodeLease } from "../../cluster/node-lease.js";
import { networkAddress } from "../../common/cidr.js";
import type { FdbEntry, Neighbour, Route } from "../../kernel/api.js";
import { vtepMac } from "../../kernel/mac-address.js";
import type { Backend, BackendDesiredState, LocalNode } from "../api.js";
import { directRoute, isL2Adjacent } from "../shared/direct-routes.js";

export interface VxlanOptions {
  /** VXLAN network identifier; Flannel's default is 1. */
  readonly vni: number;
  /** UDP port: 8472 (Linux and Flannel default) or 4789 (IANA). */
  readonly port: number;
  /** DirectRouting / CrossSubnet: route directly to L2-adjacent peers, encapsulate to the rest. */
  readonly directRouting: boolean;
  /** Name of this node, to derive a stable VTEP MAC. */
  readonly node: string;
}

/** The device per VNI, named like Flannel's flannel.1: strata.<vni>. */
export const vxlanDeviceName = (vni: number) => `strata.${vni}`;

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const vxlanOverheadV4 = 50;

/**
 * VXLAN without learning: each node's VTEP address is the network address of its pod subnet
 * (on the device as a /32); per remote node a permanent neighbour (VTEP IP -> VTEP MAC), an FDB
 * entry (VTEP MAC -> remote underlay IP) and an onlink route for its subnet via its VTEP IP.
 */
export function createVxlanBackend(opts: VxlanOptions): Backend {
  const dev = vxlanDeviceName(opts.vni);
  const mac = vtepMac(opts.node, opts.vni);
  return {
    name: opts.directRouting ? "vxlan-crosssubnet" : "vxlan",
    podMtu: (underlayMtu) => underlayMtu - vxlanOverheadV4,
    localBackendData: () => ({ vtepMac: mac, vni: String(opts.vni) }),
    desired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState {
      const routes: Route[] = [];
      const neighbours: Neighbour[] = [];
      const fdb: FdbEntry[] = [];
      const unreachable: { node: string; reason: string }[] = [];
      for (const peer of peers) {
        if (peer.node === local.lease.node) continue;
        if (opts.directRouting && isL2Adjacent(local.lease, peer)) {
          routes.push(directRoute(peer, local.underlayDev));
          continue;
        }
        const peerMac = peer.backendData.vtepMac;
        if (!peerMac) {
          unreachable.push({
            node: peer.node,
            reason: "peer published no VTEP MAC (is it running the vxlan backend?)",
          });
          continue;
        }
        const peerVtep = networkAddress(peer.subnet);
        neighbours.push({ dev, ip: peerVtep, mac: peerMac });
        fdb.push({ dev, mac: peerMac, dst: peer.publicIp, self: true, permanent: true });
        routes.push({ dst: peer.subnet, via: peerVtep, dev, onlink: true });
      }
      return {
        devices: [
          {
            kind: "vxlan",
            name: dev,
            vni: opts.vni,
            port: opts.port,
            local: local.lease.publicIp,
            device: local.underlayDev,
            learning: false,
            mtu: local.underlayMtu - vxlanOverheadV4,
            mac,
          },
        ],
        addresses: [[dev, `${networkAddress(local.lease.subnet)}/32`]],
        routes,
        neighbours,
        fdb,
        unreachable,
      };
    },
  };
}
