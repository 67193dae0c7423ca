import { tunnelDeviceName } from "../../backends/tunnel/tunnel.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import {
  encapsulatesTo,
  modelOf,
  ownLease,
  peerLeases,
  peerName,
  tunnelProtoOf,
  vtepOf,
  vxlanLink,
} from "./model.js";

/** The device the model sends a peer's pod traffic out of (undefined: bgp, any device will do). */
export function expectedDevice(f: NodeFacts, peer: NodeLease): string | undefined {
  const model = modelOf(f);
  if (model === "bgp") return undefined;
  if (encapsulatesTo(model, ownLease(f), peer)) {
    const proto = tunnelProtoOf(model);
    return proto ? tunnelDeviceName(proto) : (vxlanLink(f)?.name ?? "strata.1");
  }
  return f.underlayDev;
}

/** Pure: each peer's pod subnet has its route in the main table, through the device the model wants. */
export function checkRoutes(f: NodeFacts): Verdict[] {
  const peers = peerLeases(f);
  if (!f.cluster)
    return [skipped("routes to peers", f.node, "peers unknown (give --datastore as the agent has)")];
  const out: Verdict[] = [];
  // Dual stack: a peer's IPv6 pod subnet needs its route too when this node has one of its own.
  const dual = ownLease(f)?.subnet6 !== undefined;
  const subnets = peers.flatMap((p) => [
    { p, subnet: p.subnet },
    ...(dual && p.subnet6 ? [{ p, subnet: p.subnet6 }] : []),
  ]);
  for (const { p, subnet } of subnets) {
    const route = f.kernel.routes.find((r) => r.dst === subnet && (r.table === undefined || r.table === 254));
    const dev = expectedDevice(f, p);
    if (!route)
      out.push(
        problem(
          "routes to peers",
          f.node,
          "pod-route-missing",
          `no route to ${peerName(p)}'s pods ${subnet}`,
          `the agent's repair pass puts it back within its --resync-interval; if it stays missing, read the agent's /healthz and log`,
          p.node,
        ),
      );
    else if (dev && route.dev !== dev)
      out.push(
        problem(
          "routes to peers",
          f.node,
          "pod-route-missing",
          `the route to ${peerName(p)}'s pods ${subnet} goes out of ${route.dev ?? "?"}${route.via ? ` via ${route.via}` : ""}, the ${modelOf(f)} model sends them through ${dev}`,
          "someone else changed the route; the agent's repair pass replaces it (or `ip route del` it)",
          p.node,
        ),
      );
  }
  if (out.length === 0)
    out.push(
      ok(
        "routes to peers",
        f.node,
        `routes to ${subnets.length} peer subnet${subnets.length === 1 ? "" : "s"} present`,
      ),
    );
  return out;
}

/** Pure: for each peer reached through VXLAN, the neighbour (VTEP → MAC) and FDB entry (MAC → underlay address). */
export function checkVxlanEntries(f: NodeFacts): Verdict[] {
  const model = modelOf(f);
  if (model !== "vxlan" && model !== "vxlan-crosssubnet") return [];
  if (!f.cluster)
    return [skipped("vxlan entries", f.node, "peers unknown (give --datastore as the agent has)")];
  const dev = vxlanLink(f);
  if (!dev)
    return [
      problem(
        "vxlan entries",
        f.node,
        "fdb-missing",
        "no VXLAN device on this node",
        "restart the agent (it creates strata.<vni>)",
      ),
    ];
  const out: Verdict[] = [];
  const peers = peerLeases(f).filter((p) => encapsulatesTo(model, ownLease(f), p));
  for (const p of peers) {
    const mac = p.backendData.vtepMac?.toLowerCase();
    const vtep = vtepOf(p);
    const neigh = f.kernel.neighbours.find((n) => n.dev === dev.name && n.ip === vtep);
    const fdb = f.kernel.fdb.find((e) => e.dev === dev.name && e.mac.toLowerCase() === mac);
    if (!fdb)
      out.push(
        problem(
          "vxlan entries",
          f.node,
          "fdb-missing",
          `FDB entry missing on ${dev.name}: ${mac ?? "?"} → ${peerName(p)}`,
          `the repair pass re-adds it; now: bridge fdb append ${mac} dev ${dev.name} dst ${p.publicIp} self permanent`,
          p.node,
        ),
      );
    else if (fdb.dst !== p.publicIp)
      out.push(
        problem(
          "vxlan entries",
          f.node,
          "fdb-missing",
          `FDB entry on ${dev.name} sends ${p.node}'s VTEP ${mac} to ${fdb.dst ?? "nowhere"}, ${p.node} is at ${p.publicIp}`,
          `bridge fdb replace ${mac} dev ${dev.name} dst ${p.publicIp} self permanent`,
          p.node,
        ),
      );
    if (!neigh || (neigh.mac && neigh.mac.toLowerCase() !== mac))
      out.push(
        problem(
          "vxlan entries",
          f.node,
          "vtep-neighbour-missing",
          `neighbour ${vtep} (${p.node}'s VTEP) on ${dev.name} is ${neigh ? `${neigh.mac}, not ${mac}` : "missing"}`,
          `ip neigh replace ${vtep} lladdr ${mac} dev ${dev.name} nud permanent`,
          p.node,
        ),
      );
  }
  if (out.length === 0)
    out.push(
      ok(
        "vxlan entries",
        f.node,
        `neighbour and FDB entries for ${peers.length} VTEP${peers.length === 1 ? "" : "s"} present`,
      ),
    );
  return out;
}

/**
 * Pure: the VXLAN port is open both ways to each peer. The proof is the overlay probe: an echo to
 * the peer's VTEP address leaves as UDP to the peer's port and its reply can only come back
 * decapsulated by our VXLAN device, so an answer proves the port in both directions with the
 * kernel's own socket as the listener. Blamed only when the entries and the underlay are fine.
 */
export function checkVxlanPort(
  f: NodeFacts,
  entries: readonly Verdict[],
  routes: readonly Verdict[],
): Verdict[] {
  const model = modelOf(f);
  if (model !== "vxlan" && model !== "vxlan-crosssubnet") return [];
  const port = vxlanLink(f)?.vxlan?.port ?? 8472;
  const overlay = f.probes.filter((p) => p.kind === "overlay");
  if (overlay.length === 0)
    return [skipped("vxlan port", f.node, "no overlay probes (no peers reached through VXLAN)")];
  const out: Verdict[] = [];
  for (const p of overlay) {
    if (p.ok || (p.largest ?? 0) > 0) continue;
    const named = (v: Verdict) => !v.ok && v.peer === p.peer;
    const underlayDown = f.probes.some(
      (u) => u.kind === "underlay" && u.peer === p.peer && !u.ok && !u.largest,
    );
    if (entries.some(named) || routes.some(named) || underlayDown) continue; // those say why
    out.push(
      problem(
        "vxlan port",
        f.node,
        "vxlan-port-blocked",
        `nothing comes back through VXLAN from ${p.peer} (${p.to}) though the underlay answers: UDP ${port} is dropped on the way, or ${p.peer} drops or cannot route the packet (its own doctor says which)`,
        `allow UDP ${port} between the nodes' underlay addresses, both ways (firewall, security group)`,
        p.peer,
      ),
    );
  }
  if (out.length === 0 && overlay.every((p) => p.ok || (p.largest ?? 0) > 0))
    out.push(
      ok(
        "vxlan port",
        f.node,
        `UDP ${port} answered through the overlay by ${overlay.length} peer${overlay.length === 1 ? "" : "s"}`,
      ),
    );
  return out;
}
