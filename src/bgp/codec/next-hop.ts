import ipaddr from "ipaddr.js";
import { UpdateSubcode } from "./errors.js";
import type { ErrorOutcome, UpdateMessage } from "./types.js";

/** Address ranges that can never be a next hop to forward to (RFC 4271 §6.3; RFC 2545 §3 for IPv6). */
const unusableV4 = new Set(["unspecified", "broadcast", "multicast"]);
const unusableV6 = new Set(["unspecified", "multicast"]);
/** Class E (240.0.0.0/4): ipaddr.js calls it "reserved" together with documentation ranges, which are fine. */
const classE = ipaddr.parseCIDR("240.0.0.0/4");

/** Without the zone (`fe80::1%eth0` → `fe80::1`), as the wire carries it. */
const bare = (a: string) => a.replace(/%.*$/, "");

/**
 * Pure: why `address` is not a next hop this speaker may use (undefined: it may). RFC 4271 §6.3:
 * it must not be one of the receiving speaker's own addresses, nor 0.0.0.0, broadcast,
 * multicast, loopback or class E (for IPv6: unspecified, multicast, loopback). A loopback next
 * hop is fine only on a session that itself runs over loopback (two speakers on one host, where
 * the peer's loopback address is where it is).
 */
export function nextHopProblem(address: string, own: readonly string[] = []): string | undefined {
  if (!ipaddr.isValid(address)) return `next hop ${address} is not an address`;
  const a = ipaddr.parse(address);
  const range = a.range();
  const overLoopback = own.some(
    (o) => ipaddr.isValid(bare(o)) && ipaddr.parse(bare(o)).range() === "loopback",
  );
  if (range === "loopback" && !overLoopback) return `next hop ${address} is loopback`;
  if ((a.kind() === "ipv4" ? unusableV4 : unusableV6).has(range)) return `next hop ${address} is ${range}`;
  if (a.kind() === "ipv4" && a.match(classE)) return `next hop ${address} is class E (240.0.0.0/4)`;
  if (own.some((o) => ipaddr.isValid(bare(o)) && ipaddr.parse(bare(o)).toString() === a.toString()))
    return `next hop ${address} is this speaker's own address`;
  return undefined;
}

/**
 * The NEXT_HOP semantic checks of RFC 4271 §6.3 over a decoded UPDATE: a semantically wrong next
 * hop (IPv4 NEXT_HOP, or MP_REACH_NLRI's global one) is logged and its routes ignored, with no
 * NOTIFICATION — RFC 7606 §7.3 treat-as-withdraw, recorded in `outcomes` like every other
 * recoverable error the decoder finds (the RIB withdraws the message's NLRI on it).
 */
export function checkNextHops(u: UpdateMessage, own: readonly string[]): UpdateMessage {
  const a = u.attributes;
  const problems: ErrorOutcome[] = [];
  const bad = (attribute: number, reason: string) =>
    problems.push({
      action: "treat-as-withdraw",
      attribute,
      subcode: UpdateSubcode.InvalidNextHopAttribute,
      reason,
    });
  if (a.nextHop !== undefined && u.nlri.length > 0) {
    const why = nextHopProblem(a.nextHop, own);
    if (why) bad(3, why);
  }
  const reach = a.mpReach;
  if (reach && reach.nlri.length > 0) {
    const [first, second] = reach.nextHops;
    // RFC 2545 §3: the global next hop may be "::" only beside a link-local one.
    const global = first === "::" && second !== undefined ? second : first;
    const why = global === undefined ? "MP_REACH_NLRI has no next hop" : nextHopProblem(global, own);
    if (why) bad(14, why);
  }
  if (problems.length === 0) return u;
  return { ...u, outcomes: [...(u.outcomes ?? []), ...problems] };
}
