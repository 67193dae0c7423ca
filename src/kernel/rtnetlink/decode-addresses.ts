import type { Address } from "../api.js";
import { addressText, af, ifa, parseAttrs, rtm, splitMessages } from "./codec.js";
import { scopeText } from "./names.js";

/**
 * The addresses of an RTM_GETADDR dump as the iproute2 driver's parser gives them for
 * `ip -json addr show` (src/kernel/iproute2/parse.ts): link by link in the order of `links` (a
 * link dump's, as `ip` prints them; links not in it are left out), each link's addresses in the
 * dump's order (IPv4 before IPv6, as the kernel dumps them). The address is IFA_LOCAL (the
 * device's own end of a point-to-point address), IFA_ADDRESS when there is none (IPv6).
 */
export function decodeAddresses(dump: Buffer, links: ReadonlyMap<number, string>): Address[] {
  const byLink = new Map<number, Address[]>();
  for (const m of splitMessages(dump)) {
    if (m.type !== rtm.newAddr || m.body.length < 8) continue;
    const family = m.body.readUInt8(0);
    if (family !== af.inet && family !== af.inet6) continue;
    const index = m.body.readUInt32LE(4);
    const dev = links.get(index);
    if (dev === undefined) continue;
    const a = parseAttrs(m.body, 8);
    const local = a.get(ifa.local) ?? a.get(ifa.address);
    if (!local) continue;
    const list = byLink.get(index) ?? [];
    list.push({
      dev,
      family: family === af.inet6 ? 6 : 4,
      cidr: `${addressText(local)}/${m.body.readUInt8(1)}`,
      scope: scopeText(m.body.readUInt8(3)),
    });
    byLink.set(index, list);
  }
  return [...links.keys()].flatMap((index) => byLink.get(index) ?? []);
}
