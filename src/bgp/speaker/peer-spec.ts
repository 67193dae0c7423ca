import { StrataError } from "../../common/errors.js";
import type { PeerConfig } from "./speaker.js";

export class PeerSpecError extends StrataError {
  constructor(spec: string, what: string) {
    super(
      "bgp.peer-spec",
      `bad --peer "${spec}": ${what} (write ADDRESS,as=ASN[,port=N][,rr-client][,passive][,max-prefixes=N][,next-hop-self])`,
    );
  }
}

const asnOf = (s: string) => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 0xffffffff;
const isAddress = (s: string) =>
  /^(\d{1,3}\.){3}\d{1,3}$/.test(s) && s.split(".").every((o) => Number(o) <= 255);

/** Pure: one `--peer` argument into a peer configuration, or an error that says what to write. */
export function parsePeerSpec(spec: string): PeerConfig {
  const [address = "", ...opts] = spec.split(",");
  if (!isAddress(address)) throw new PeerSpecError(spec, `"${address}" is not an IPv4 address`);
  let asn: number | undefined;
  const c: { -readonly [K in keyof PeerConfig]: PeerConfig[K] } = { address, asn: 0 };
  for (const opt of opts) {
    const [k = "", v] = opt.split("=");
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
      default:
        throw new PeerSpecError(spec, `unknown option "${k}"`);
    }
  }
  if (asn === undefined) throw new PeerSpecError(spec, "as=ASN is required");
  return { ...c, asn };
}
