import ipaddr from "ipaddr.js";
import { isIpv4 } from "../../common/cidr.js";
import { StrataError } from "../../common/errors.js";
import { type PrefixRange, parsePrefixRange } from "../rib/prefix-list.js";
import type { PeerConfig } from "./speaker.js";

/** The peer options of one `--peer`/`--bgp-peer` argument, before the password file is read. */
export type PeerSpec = Omit<PeerConfig, "md5Key"> & { readonly passwordFile?: string };

export const peerSpecSyntax =
  "ADDRESS,as=ASN[,port=N][,rr-client][,passive][,max-prefixes=N][,next-hop-self][,import=PREFIX/LEN[geN][leN]]...[,password-file=PATH][,ttl-security][,extended-nexthop][,link-local-next-hop]";

export class PeerSpecError extends StrataError {
  constructor(spec: string, what: string) {
    super("bgp.peer-spec", `bad --peer "${spec}": ${what} (write ${peerSpecSyntax})`);
  }
}

/**
 * Why `address` cannot be a peer's address (undefined: it can): IPv4, IPv6, or an IPv6 link-local
 * address with the interface it is on (`fe80::1%eth0`; the kernel needs the zone to reach it).
 */
function peerAddressProblem(address: string): string | undefined {
  if (isIpv4(address)) return undefined;
  const [bare = "", zone, ...more] = address.split("%");
  if (!ipaddr.IPv6.isValid(bare)) return `"${address}" is not an IPv4 or IPv6 address`;
  const linkLocal = ipaddr.IPv6.parse(bare).range() === "linkLocal";
  if (more.length > 0 || zone === "") return `"${address}" has a bad interface suffix (write fe80::1%eth0)`;
  if (linkLocal && zone === undefined)
    return `"${address}" is link-local: name its interface (write ${bare}%eth0)`;
  if (!linkLocal && zone !== undefined)
    return `"${address}" is not link-local: an interface suffix only goes with fe80::/10 addresses`;
  return undefined;
}

const asnOf = (s: string) => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 0xffffffff;

/**
 * Pure: one `--peer` argument into a peer configuration, or an error that says what to write.
 * An IPv6 address may be written in brackets (`[fd00::1],as=65001`); a link-local one names its
 * interface (`fe80::1%eth0`). `import=` repeats (each adds a range to the peer's import list); the password comes only from a
 * file (`password-file=`), read later by `withPassword`.
 */
export function parsePeerSpec(spec: string): PeerSpec {
  const [written = "", ...opts] = spec.split(",");
  const address = /^\[.*\]$/.test(written) ? written.slice(1, -1) : written;
  const problem = peerAddressProblem(address);
  if (problem) throw new PeerSpecError(spec, problem);
  let asn: number | undefined;
  const c: { -readonly [K in keyof PeerSpec]: PeerSpec[K] } = { address, asn: 0 };
  const imports: PrefixRange[] = [];
  for (const opt of opts) {
    const eq = opt.indexOf("=");
    const k = eq < 0 ? opt : opt.slice(0, eq);
    const v = eq < 0 ? undefined : opt.slice(eq + 1);
    const num = () => {
      if (v === undefined || !/^\d+$/.test(v)) throw new PeerSpecError(spec, `${k} needs a number`);
      return Number(v);
    };
    switch (k) {
      case "as":
        if (!v || !asnOf(v)) throw new PeerSpecError(spec, "as must be 1..4294967295");
        asn = Number(v);
        break;
      case "port":
        c.port = num();
        if (c.port < 1 || c.port > 65535) throw new PeerSpecError(spec, "port must be 1..65535");
        break;
      case "max-prefixes":
        c.maxPrefixes = num();
        break;
      case "rr-client":
        c.rrClient = true;
        break;
      case "passive":
        c.passive = true;
        break;
      case "next-hop-self":
        c.nextHopSelf = true;
        break;
      case "import":
        try {
          imports.push(parsePrefixRange(v ?? ""));
        } catch (err) {
          throw new PeerSpecError(spec, err instanceof Error ? err.message : String(err));
        }
        break;
      case "password-file":
        if (!v) throw new PeerSpecError(spec, "password-file needs a path");
        c.passwordFile = v;
        break;
      case "password":
        throw new PeerSpecError(
          spec,
          "password= would show the secret to every local user (ps, /proc/PID/cmdline); put it in a root-only file and write password-file=PATH",
        );
      case "ttl-security":
        c.ttlSecurity = true;
        break;
      case "extended-nexthop":
        c.extendedNextHop = true;
        break;
      case "link-local-next-hop":
        c.linkLocalNextHop = true;
        break;
      default:
        throw new PeerSpecError(spec, `unknown option "${k}"`);
    }
  }
  if (asn === undefined) throw new PeerSpecError(spec, "as=ASN is required");
  return { ...c, asn, ...(imports.length > 0 ? { importList: imports } : {}) };
}

/** The peer's configuration with its password read (`read` is the file reader; throws on a bad file). */
export function withPassword(spec: PeerSpec, read: (path: string) => Uint8Array): PeerConfig {
  const { passwordFile, ...config } = spec;
  return passwordFile === undefined ? config : { ...config, md5Key: read(passwordFile) };
}
