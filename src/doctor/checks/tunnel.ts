import { tunnelDeviceName } from "../../backends/tunnel/tunnel.js";
import { networkAddress } from "../../common/cidr.js";
import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import { encapsulatesTo, modelOf, ownLease, peerLeases, peerName, tunnelProtoOf } from "./model.js";

/** IP protocol numbers of the outer header (IANA): what a firewall must let through. */
const ipProtocol = { ipip: 4, gre: 47 } as const;

/**
 * Pure: an ipip/gre node has its tunnel device of the datapath its agent chose (the kernel's
 * ipip/gre device, or the TUN device of the tc-BPF datapath) with its pod subnet's network
 * address; with the kernel device, each tunnelled peer's route goes via that peer's underlay
 * address (the kernel takes the outer destination from it); with BPF, the peer map holds every
 * tunnelled peer. A peer the overlay probe gets no answer from while the underlay answers and
 * the entries are right: the tunnel's IP protocol is dropped on the way.
 */
export function checkTunnel(f: NodeFacts, routes: readonly Verdict[]): Verdict[] {
  const model = modelOf(f);
  const proto = tunnelProtoOf(model);
  if (!proto) return [];
  const name = tunnelDeviceName(proto);
  const reported = f.agent.health?.backend;
  const datapath = reported?.datapath;
  const dev = f.kernel.links.find((l) => l.name === name);
  if (!dev)
    return [
      problem(
        "tunnel",
        f.node,
        "tunnel-device-missing",
        `no ${name} device on this node`,
        `restart the agent (it creates ${name}); its log and /healthz say why the last pass failed`,
      ),
    ];
  const out: Verdict[] = [];
  const wantKind = datapath === "bpf" ? "tun" : datapath === "kernel" ? proto : undefined;
  if (wantKind && dev.kind !== wantKind)
    out.push(
      problem(
        "tunnel",
        f.node,
        "tunnel-device-missing",
        `${name} is a ${dev.kind ?? "plain"} device, the ${datapath} datapath needs a device of kind ${wantKind}`,
        `ip link del ${name}; the agent's repair pass creates the right one`,
      ),
    );
  const self = ownLease(f);
  const address = self ? `${networkAddress(self.subnet)}/32` : undefined;
  if (address && !f.kernel.addresses.some((a) => a.dev === name && a.cidr === address))
    out.push(
      problem(
        "tunnel",
        f.node,
        "tunnel-device-missing",
        `${name} lacks ${address}: traffic this node sends to remote pods leaves with a source the peers' decapsulation drops`,
        `ip addr add ${address} dev ${name} (the agent's repair pass adds it too)`,
      ),
    );
  const peers = f.cluster ? peerLeases(f).filter((p) => encapsulatesTo(model, self, p)) : [];
  if (datapath === "kernel")
    for (const p of peers) {
      const route = f.kernel.routes.find((r) => r.dst === p.subnet && r.dev === name);
      if (route && route.via !== p.publicIp)
        out.push(
          problem(
            "tunnel",
            f.node,
            "pod-route-missing",
            `the route to ${peerName(p)}'s pods goes via ${route.via ?? "no gateway"}: ${name} takes the outer destination from it, so it must be ${p.publicIp}`,
            `ip route replace ${p.subnet} via ${p.publicIp} dev ${name} onlink proto 147`,
            p.node,
          ),
        );
    }
  if (datapath === "bpf" && f.cluster) {
    const sync = reported?.peerMapSync;
    if (!sync || sync.peers !== peers.length)
      out.push(
        problem(
          "tunnel",
          f.node,
          "tunnel-peer-map",
          sync
            ? `the tc-BPF peer map was last synced with ${sync.peers} peer${sync.peers === 1 ? "" : "s"} (${sync.at}), ${peers.length} are reached through ${name}: the others' packets are dropped`
            : "the tc-BPF peer map has never been synced: no packet is encapsulated or accepted",
          "the agent syncs it on every full pass: wait for the repair pass, or read the last reconcile error in its /healthz",
        ),
      );
  }
  for (const probe of f.probes.filter((p) => p.kind === "overlay" && !p.ok && !p.largest)) {
    const named = (v: Verdict) => !v.ok && v.peer === probe.peer;
    const underlayDown = f.probes.some(
      (u) => u.kind === "underlay" && u.peer === probe.peer && !u.ok && !u.largest,
    );
    if (routes.some(named) || out.some(named) || underlayDown) continue;
    out.push(
      problem(
        "tunnel",
        f.node,
        "tunnel-proto-blocked",
        `nothing comes back through ${proto} from ${probe.peer} (${probe.to}) though the underlay answers: IP protocol ${ipProtocol[proto]} is dropped on the way, or ${probe.peer} drops the packets (its own doctor says which)`,
        `allow IP protocol ${ipProtocol[proto]} (${proto}) between the nodes' underlay addresses, both ways`,
        probe.peer,
      ),
    );
  }
  if (out.length > 0) return out;
  if (!datapath)
    return [skipped("tunnel", f.node, `${name} present; the agent did not say which datapath it uses`)];
  const how = datapath === "bpf" ? "tc-BPF" : `kernel ${proto} device`;
  return [
    ok(
      "tunnel",
      f.node,
      `${name} (${how}) carries ${peers.length} peer${peers.length === 1 ? "" : "s"}; ${reported?.datapathReason ?? ""}`.replace(
        /; $/,
        "",
      ),
    ),
  ];
}
