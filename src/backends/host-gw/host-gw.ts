import type { NodeLease } from "../../cluster/node-lease.js";
import type { Route } from "../../kernel/api.js";
import type { Backend, BackendDesiredState, LocalNode } from "../api.js";
import { directRoute, directRoute6, isL2Adjacent } from "../shared/direct-routes.js";

/**
 * Flannel's host-gw: the node is the router, one route per remote pod subnet via that node's
 * underlay address (dual stack: also its IPv6 pod subnet via its IPv6 address). Works only when nodes share an L2 segment; a peer behind a router is
 * reported unreachable instead of getting a route that would black-hole its traffic.
 */
export function createHostGwBackend(): Backend {
  return {
    name: "host-gw",
    podMtu: (underlayMtu) => underlayMtu,
    localBackendData: () => ({}),
    desired(local: LocalNode, peers: readonly NodeLease[]): BackendDesiredState {
      const routes: Route[] = [];
      const unreachable: { node: string; reason: string }[] = [];
      for (const peer of peers) {
        if (peer.node === local.lease.node) continue;
        if (isL2Adjacent(local.lease, peer)) {
          routes.push(directRoute(peer, local.underlayDev));
          // Dual stack: the peer's IPv6 pod subnet the same way, via its IPv6 address.
          const six = directRoute6(local, peer);
          if (six) routes.push(six);
        } else {
          unreachable.push({
            node: peer.node,
            reason: `host-gw needs a shared L2 segment: ${peer.publicIp} is not on ${local.lease.publicIp}/${local.lease.publicPrefix}; use vxlan or vxlan-crosssubnet`,
          });
        }
      }
      return { devices: [], addresses: [], routes, neighbours: [], fdb: [], unreachable };
    },
  };
}
