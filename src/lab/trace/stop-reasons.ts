/**
 * Why a packet stopped (or would stop): one typed vocabulary for `strata lab trace` and, once the
 * lead unifies them, `strata doctor`. Each reason carries the facts that prove it; `explainStop`
 * turns it into one line of text and one line saying what to fix. Pure: no I/O.
 */
export type StopReason =
  /** The kernel has no route at all (`ip route get` failed: unreachable, prohibit, blackhole). */
  | { readonly kind: "no-route"; readonly ns: string; readonly dst: string; readonly kernelSays: string }
  /**
   * A node took its default route for an address of another node's pod subnet: the route the
   * backend installs for that subnet is missing.
   */
  | {
      readonly kind: "pod-route-missing";
      readonly node: string;
      readonly subnet: string;
      readonly owner: string;
      readonly took: string;
    }
  /** The next hop's neighbour entry is INCOMPLETE or FAILED: nobody answers ARP for it. */
  | {
      readonly kind: "neighbour-incomplete";
      readonly ns: string;
      readonly dev: string;
      readonly ip: string;
      readonly state: string;
    }
  /** A VXLAN device has no neighbour entry for the remote VTEP address (learning is off). */
  | {
      readonly kind: "vtep-neighbour-missing";
      readonly ns: string;
      readonly dev: string;
      readonly ip: string;
    }
  /** A VXLAN device has no FDB entry for the remote VTEP's MAC: it cannot pick an outer destination. */
  | { readonly kind: "fdb-missing"; readonly ns: string; readonly dev: string; readonly mac: string }
  /** The pod's source guard (nftables `strata-antispoof`) drops a packet whose source is not the pod's. */
  | {
      readonly kind: "spoofed-source";
      readonly ns: string;
      readonly port: string;
      readonly src: string;
      readonly allowed: readonly string[];
      /** The guard's drop counter of the packet's family before and after the probe (undefined: not measured). */
      readonly counter?: { readonly before: number; readonly after: number };
    }
  /** A packet with DF set (or any IPv6 packet) is larger than the MTU of the device it must cross. */
  | {
      readonly kind: "mtu-exceeded";
      readonly ns: string;
      readonly dev: string;
      readonly packetBytes: number;
      readonly mtu: number;
    }
  /** A device on the path is down. */
  | { readonly kind: "link-down"; readonly ns: string; readonly dev: string }
  /** The pod route is missing because the BGP session that would carry it is not Established. */
  | {
      readonly kind: "bgp-session-down";
      readonly node: string;
      readonly peer: string;
      readonly state: string;
      readonly subnet: string;
    }
  /** The destination node no longer holds its subnet lease (expired, removed or taken). */
  | {
      readonly kind: "lease-expired";
      readonly node: string;
      readonly subnet: string;
      readonly detail: string;
    }
  /** The next hop's address belongs to no namespace of the lab. */
  | { readonly kind: "next-hop-unknown"; readonly ns: string; readonly ip: string }
  /** The probe could not even be sent (the sender's kernel refused it). */
  | { readonly kind: "send-refused"; readonly ns: string; readonly error: string }
  /** Predicted to arrive, but the probe was not seen after this hop: nothing in the kernel's state says why. */
  | { readonly kind: "lost"; readonly afterNs: string; readonly afterDev: string };

export type StopKind = StopReason["kind"];

export interface StopExplanation {
  readonly text: string;
  readonly fix: string;
}

/** Pure: the reason as a person reads it, and what to do about it. */
export function explainStop(r: StopReason): StopExplanation {
  switch (r.kind) {
    case "no-route":
      return {
        text: `${r.ns} has no route to ${r.dst} (kernel: ${r.kernelSays})`,
        fix: `add a route for ${r.dst} in ${r.ns}, or check that the agent that installs it runs`,
      };
    case "pod-route-missing":
      return {
        text: `${r.node} has no route for ${r.subnet} (pods of ${r.owner}); it took ${r.took} instead`,
        fix: `the agent on ${r.node} re-adds it within --resync-interval; if not, see its /healthz (missingRoutes, lastReconcile)`,
      };
    case "neighbour-incomplete":
      return {
        text: `${r.ns}: neighbour ${r.ip} on ${r.dev} is ${r.state} (nobody answers ARP for it)`,
        fix: `check that ${r.ip} is up and on the link of ${r.dev}; \`ip -n ${r.ns} neigh show dev ${r.dev}\``,
      };
    case "vtep-neighbour-missing":
      return {
        text: `${r.ns}: ${r.dev} has no neighbour entry for the remote VTEP ${r.ip} (learning is off, so nothing resolves it)`,
        fix: `the vxlan backend writes it from the peer's lease (vtepMac); restart or wait for the agent's repair pass`,
      };
    case "fdb-missing":
      return {
        text: `${r.ns}: ${r.dev} has no FDB entry for VTEP MAC ${r.mac}, so it knows no outer destination`,
        fix: `the vxlan backend writes it from the peer's lease; wait for the agent's repair pass or check its /healthz`,
      };
    case "spoofed-source": {
      const counted = r.counter ? ` (drop counter ${r.counter.before} → ${r.counter.after})` : "";
      return {
        text: `${r.ns}: the source guard on ${r.port} dropped a packet from ${r.src}; the pod may send only from ${r.allowed.join(", ") || "(nothing)"}${counted}`,
        fix: `send from the pod's own address, or set "antiSpoofing": false for pods that route for others`,
      };
    }
    case "mtu-exceeded":
      return {
        text: `${r.ns}: a ${r.packetBytes}-byte packet with DF set does not fit ${r.dev} (MTU ${r.mtu})`,
        fix: `raise the MTU of ${r.dev} to at least ${r.packetBytes}, or lower the pod MTU so its packets fit`,
      };
    case "link-down":
      return { text: `${r.ns}: ${r.dev} is down`, fix: `ip -n ${r.ns} link set ${r.dev} up` };
    case "bgp-session-down":
      return {
        text: `${r.node} has no route for ${r.subnet}: its BGP session with ${r.peer} is ${r.state}, not Established`,
        fix: `check that ${r.peer} is the peer's address and reachable on port 179 (see the agent's /healthz backend.bgpSessions)`,
      };
    case "lease-expired":
      return {
        text: `${r.node} no longer holds its lease on ${r.subnet} (${r.detail}), so no node routes to it`,
        fix: `restart the agent on ${r.node}: it takes its subnet back if nobody else holds it`,
      };
    case "next-hop-unknown":
      return {
        text: `${r.ns}: the next hop ${r.ip} belongs to no namespace of the lab`,
        fix: `check the route that chose ${r.ip} in ${r.ns}`,
      };
    case "send-refused":
      return { text: `${r.ns} refused to send the probe: ${r.error}`, fix: "see the error" };
    case "lost":
      return {
        text: `the probe was last seen in ${r.afterNs} on ${r.afterDev}; the kernel's state predicted more hops`,
        fix: "capture there by hand (tcpdump) and look at firewall rules other than Strata's",
      };
  }
}
