import { z } from "zod";
import { type PeerSpec, PeerSpecError, parsePeerSpec, withPassword } from "../../bgp/speaker/peer-spec.js";
import { checkProtection, readPasswordFile } from "../../bgp/speaker/tcp-security.js";
import { type BackendDefinition, namesItsFlag } from "../definition.js";
import { commaListFlag, ipv4Flag, repeatedFlag, switchFlag, wholeNumberFlag } from "../flag-schemas.js";
import { BgpBackend } from "./bgp.js";

/** The bgp backend's options from its flags (peer specs parsed; their password files not read yet). */
export interface BgpFlagOptions {
  readonly asn: number;
  readonly peers: readonly PeerSpec[];
  readonly mesh: boolean;
  readonly routeReflectors: readonly string[];
  readonly clusterId: string;
  readonly holdTime: number;
  /** Graceful restart time (RFC 4724), 0: graceful restart off. */
  readonly restartTime: number;
  readonly passwordFile: string | undefined;
}

const options = z
  .object({
    bgpAsn: wholeNumberFlag(1, 0xffffffff),
    bgpPeer: repeatedFlag().transform((specs, ctx) => {
      const peers: PeerSpec[] = [];
      for (const spec of specs) {
        try {
          peers.push(parsePeerSpec(spec));
        } catch (err) {
          if (!(err instanceof PeerSpecError)) throw err;
          // The parser's message names the flag already (`bad --peer "..."`: what to write).
          ctx.addIssue({ code: "custom", input: spec, message: err.message, params: namesItsFlag });
          return z.NEVER;
        }
      }
      return peers;
    }),
    bgpMesh: switchFlag(),
    bgpRouteReflectors: commaListFlag(),
    bgpClusterId: ipv4Flag(),
    // RFC 4271 §4.2: the hold time is 0 or at least 3 seconds.
    bgpHold: wholeNumberFlag(0, 65535).refine((s) => s === 0 || s >= 3, {
      error: (iss) => `"${iss.input}" must be 0 or 3 to 65535`,
    }),
    // RFC 4724 §3: 12 bits of seconds; 0 turns graceful restart off.
    bgpRestartTime: wholeNumberFlag(0, 4095),
    bgpPasswordFile: z.string().optional(),
  })
  .transform(
    (o): BgpFlagOptions => ({
      asn: o.bgpAsn,
      peers: o.bgpPeer,
      mesh: o.bgpMesh,
      routeReflectors: o.bgpRouteReflectors,
      clusterId: o.bgpClusterId,
      holdTime: o.bgpHold,
      restartTime: o.bgpRestartTime,
      passwordFile: o.bgpPasswordFile,
    }),
  );

/** bgp in the registry: Calico-style routed pods, a BGP speaker on every node. */
export const bgpDefinition = {
  name: "bgp" as const,
  hostable: true,
  summary: "a BGP speaker per node announces its pod subnet; routed pods, no overlay",
  options,
  cliFlags: [
    { flag: "--bgp-asn <asn>", help: "the cluster's AS", default: "64512" },
    {
      flag: "--bgp-peer <spec>",
      help: "a peer outside the cluster, ADDRESS,as=ASN[,...] as for bgp-speaker (repeat)",
      default: [],
      repeatable: true,
    },
    { flag: "--no-bgp-mesh", help: "no node-to-node sessions (only --bgp-peer, e.g. a top-of-rack router)" },
    {
      flag: "--bgp-route-reflectors <nodes>",
      help: "comma-separated node names that reflect; the rest peer only with them",
    },
    { flag: "--bgp-cluster-id <id>", help: "route-reflector cluster id", default: "244.0.0.1" },
    { flag: "--bgp-hold <s>", help: "hold time", default: "9" },
    {
      flag: "--bgp-restart-time <s>",
      help: "graceful restart (RFC 4724): peers keep this node's routes this long while its agent restarts; 0: off",
      default: "120",
    },
    {
      flag: "--bgp-password-file <path>",
      help: "TCP-MD5 (RFC 2385) password of every node-to-node session, one line in a root-only file",
    },
  ],
  create(o: BgpFlagOptions, deps) {
    // Secrets are read and TCP-MD5 support checked here, before the agent leases anything.
    const meshMd5Key = o.passwordFile ? readPasswordFile(o.passwordFile) : undefined;
    if (meshMd5Key) checkProtection("mesh (--bgp-password-file)", { md5Key: meshMd5Key });
    const external = o.peers.map((s) => withPassword(s, readPasswordFile));
    for (const p of external) checkProtection(p.address, p);
    return new BgpBackend({
      asn: o.asn,
      mesh: o.mesh,
      routeReflectors: o.routeReflectors,
      external,
      meshMd5Key,
      clusterId: o.clusterId,
      holdTime: o.holdTime,
      gracefulRestart: o.restartTime === 0 ? false : { restartTime: o.restartTime },
      connectRetrySeconds: 1,
      port: 179,
      config: deps.bgpConfig,
    });
  },
  dualStack: true,
} satisfies BackendDefinition<BgpFlagOptions>;
