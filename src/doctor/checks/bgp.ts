import type { SessionStatus } from "../../bgp/speaker/speaker.js";
import type { NodeFacts } from "../facts.js";
import { ok, problem, type Verdict } from "../verdict.js";
import { modelOf } from "./model.js";

/** Pure: the likely cause of a session that is not Established, and the fix. */
export function sessionCause(
  f: NodeFacts,
  s: SessionStatus & { lastDown?: string },
): { text: string; fix: string } {
  const down = s.lastDown ?? "";
  const lookup = f.kernel.lookups.find((l) => l.dst === s.peer);
  const lease = f.cluster?.leases.find((l) => l.publicIp === s.peer);
  const peerAsn = lease?.backendData.bgpAsn;
  if (lookup && !lookup.dev)
    return {
      text: `no route to the peer ${s.peer}${lookup.error ? ` (${lookup.error})` : ""}`,
      fix: `give this node a route to ${s.peer} (its underlay address or default route)`,
    };
  if (peerAsn !== undefined && Number(peerAsn) !== s.asn)
    return {
      text: `AS mismatch: configured as AS ${s.asn}, ${lease?.node} announces AS ${peerAsn}`,
      fix: `configure the peer with as=${peerAsn} (or the cluster's --bgp-asn on ${lease?.node})`,
    };
  if (/NOTIFICATION 2\/2\b/.test(down))
    return {
      text: `AS mismatch: ${down.startsWith("peer") ? `${s.peer} refused our AS (Bad Peer AS)` : `${s.peer} opened with another AS than ${s.asn} (Bad Peer AS)`}`,
      fix: `make both ends agree: our as=${s.asn} for ${s.peer} and the peer's neighbour AS for us`,
    };
  if (/NOTIFICATION 4\/0\b/.test(down))
    return {
      text: `hold timer expired (${down}): keepalives from ${s.peer} stopped arriving`,
      fix: `look for loss on the underlay to ${s.peer}, or a stuck speaker there`,
    };
  if (/EHOSTUNREACH|ETIMEDOUT|ENETUNREACH/.test(down))
    return {
      text: `${s.peer} does not answer (${down})`,
      fix: `is ${s.peer} still the peer's address? check the underlay and the peer's address`,
    };
  if (/ECONNREFUSED/.test(down))
    return {
      text: `${s.peer} refuses TCP 179 (${down})`,
      fix: `start the peer's speaker or let it listen on ${s.peer}:179`,
    };
  return {
    text: `state ${s.state}${down ? `, last: ${down}` : ""}`,
    fix: `read both speakers' logs (password, GTSM, or the peer not configured for us)`,
  };
}

/**
 * Pure: the bgp model's sessions (as the agent's speaker reports them in /healthz) are
 * Established, and the speaker's local address is still on this node.
 */
export function checkBgp(f: NodeFacts): Verdict[] {
  if (modelOf(f) !== "bgp") return [];
  const b = f.agent.health?.backend;
  if (!b?.bgpSessions) return [];
  const out: Verdict[] = [];
  const local = b.bgpLocalAddress;
  if (local && !f.kernel.addresses.some((a) => a.cidr.split("/")[0] === local))
    out.push(
      problem(
        "bgp sessions",
        f.node,
        "bgp-local-address-missing",
        `the speaker's local address ${local} is not on this node any more: no session can be made from or to it`,
        `put ${local} back on ${f.underlayDev}, or restart the agent to lease with the new address`,
      ),
    );
  for (const s of b.bgpSessions) {
    if (s.state === "Established") continue;
    const cause = sessionCause(f, s);
    const node = f.cluster?.leases.find((l) => l.publicIp === s.peer)?.node;
    out.push(
      problem(
        "bgp sessions",
        f.node,
        "bgp-session-down",
        `session to ${node ? `${node} ` : ""}${s.peer} is ${s.state}, not Established: ${cause.text}`,
        cause.fix,
        node ?? s.peer,
      ),
    );
  }
  if (out.length === 0) {
    const n = b.bgpSessions.length;
    out.push(ok("bgp sessions", f.node, `${n} BGP session${n === 1 ? "" : "s"} Established`));
  }
  return out;
}
