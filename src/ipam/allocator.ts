import { formatIp, type Ip, sameIp } from "./address.js";
import type { IpRange, RangeSet } from "./config.js";

/**
 * Pure: the candidate addresses of a range set in host-local's order — round-robin, starting just
 * after the last reserved address (so a released address is not reused at once), wrapping around
 * through every range of the set. Gateways are never candidates.
 */
export function* candidates(set: RangeSet, lastReserved?: Ip): Generator<{ ip: string; range: IpRange }> {
  if (set.length === 0) return;
  let startRange = 0;
  let startAt: bigint | undefined;
  if (lastReserved) {
    const idx = set.findIndex(
      (r) =>
        r.family === lastReserved.family &&
        lastReserved.value >= r.rangeStart.value &&
        lastReserved.value <= r.rangeEnd.value,
    );
    if (idx >= 0) {
      startRange = idx;
      startAt = lastReserved.value + 1n;
    }
  }
  // Walk: the tail of the starting range, every other range, then the head of the starting range.
  for (let k = 0; k <= set.length; k++) {
    const range = set[(startRange + k) % set.length] as IpRange;
    const first = k === 0 && startAt !== undefined ? startAt : range.rangeStart.value;
    const last = k === set.length ? (startAt ?? range.rangeStart.value) - 1n : range.rangeEnd.value;
    if (k === set.length && startAt === undefined) break;
    for (let v = first; v <= last && v <= range.rangeEnd.value; v++) {
      const ip: Ip = { family: range.family, value: v };
      if (sameIp(ip, range.gateway)) continue;
      yield { ip: formatIp(ip), range };
    }
  }
}

/** Which range of a set holds `ip`, if any. */
export function rangeOf(set: RangeSet, ip: Ip): IpRange | undefined {
  return set.find(
    (r) => r.family === ip.family && ip.value >= r.rangeStart.value && ip.value <= r.rangeEnd.value,
  );
}
