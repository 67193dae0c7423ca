import ipaddr from "ipaddr.js";
import { ipv4Span } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";
import type { Prefix } from "../codec/prefix.js";

/**
 * One entry of a prefix list, in the shape router configurations use (Cisco/FRR `ge`/`le`):
 * a prefix matches when it lies inside `prefix` and its length is within [ge, le].
 * `10.244.0.0/16` alone matches exactly that prefix; `10.244.0.0/16le24` it and its
 * more-specifics down to /24; `10.244.0.0/16ge24le24` only the /24s inside it.
 */
export interface PrefixRange {
  readonly prefix: Prefix;
  readonly ge: number;
  readonly le: number;
}

export class PrefixListError extends StrataError {
  constructor(text: string, what: string) {
    super(
      "bgp.prefix-list",
      `bad prefix range "${text}": ${what} (write PREFIX/LEN[geN][leN], e.g. 10.244.0.0/16le24)`,
    );
  }
}

/** Pure: "10.244.0.0/16ge20le24" into a range, or an error that says what to write. */
export function parsePrefixRange(text: string): PrefixRange {
  const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})(?:ge(\d{1,3}))?(?:le(\d{1,3}))?$/.exec(text);
  if (!m) throw new PrefixListError(text, "not a prefix with optional geN/leN");
  const [, addr = "", lenText = "", geText, leText] = m;
  if (!ipaddr.isValid(addr)) throw new PrefixListError(text, `"${addr}" is not an IP address`);
  const a = ipaddr.parse(addr);
  const max = a.kind() === "ipv4" ? 32 : 128;
  const len = Number(lenText);
  if (len > max) throw new PrefixListError(text, `/${len} is longer than ${max} bits`);
  const network = ipaddr.parseCIDR(`${addr}/${len}`);
  const base =
    a.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr}/${len}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr}/${len}`).toString();
  if (base !== network[0].toString())
    throw new PrefixListError(text, `host bits set: the network is ${base}/${len}`);
  const ge = geText === undefined ? len : Number(geText);
  const le = leText === undefined ? (geText === undefined ? len : max) : Number(leText);
  if (ge < len || ge > max) throw new PrefixListError(text, `ge must be ${len}..${max}`);
  if (le < ge || le > max) throw new PrefixListError(text, `le must be ${ge}..${max}`);
  return { prefix: `${base}/${len}`, ge, le };
}

/** Does `prefix` (canonical, as the codec decodes it) fall inside `range`? */
export function rangeMatches(range: PrefixRange, prefix: Prefix): boolean {
  const len = Number(prefix.slice(prefix.indexOf("/") + 1));
  if (len < range.ge || len > range.le) return false;
  const a = ipv4Span(prefix);
  const r = ipv4Span(range.prefix);
  if (a || r) return a !== undefined && r !== undefined && a.first >= r.first && a.last <= r.last;
  const [addr] = ipaddr.parseCIDR(prefix);
  const [net, netLen] = ipaddr.parseCIDR(range.prefix);
  return addr.kind() === net.kind() && addr.match(net, netLen);
}

export const formatPrefixRange = (r: PrefixRange): string => {
  const len = Number(r.prefix.split("/")[1]);
  const max = r.prefix.includes(":") ? 128 : 32;
  if (r.ge === len && r.le === len) return r.prefix;
  if (r.ge === len) return `${r.prefix}le${r.le}`;
  return r.le === max ? `${r.prefix}ge${r.ge}` : `${r.prefix}ge${r.ge}le${r.le}`;
};

/** A default route (0.0.0.0/0, ::/0): the route that captures everything no one else routes. */
export const isDefaultRoute = (prefix: Prefix): boolean => prefix.endsWith("/0");
