import ipaddr from "ipaddr.js";
import { LearnedRoutesInKernel } from "../bgp/speaker/learned-routes-in-kernel.js";
import { parsePeerSpec, withPassword } from "../bgp/speaker/peer-spec.js";
import { BgpSpeaker } from "../bgp/speaker/speaker.js";
import { readPasswordFile } from "../bgp/speaker/tcp-security.js";
import { describeError } from "../common/errors.js";
import { currentNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import {
  cidrValue,
  flagCheck,
  intInRange,
  ipv4Address,
  portNumber,
  positiveInt,
  UsageError,
} from "./options.js";

export interface BgpSpeakerCliOptions {
  asn: string;
  routerId: string;
  peer: string[];
  listen?: string;
  clusterId?: string;
  hold: string;
  connectRetry: string;
  announce?: string;
  nextHop?: string;
  installRoutes?: boolean;
  routeDev?: string;
  quiet?: boolean;
}

/**
 * `strata bgp-speaker`: Strata's speaker as a process (a route reflector, a top-of-rack router in
 * the lab, a test peer). Prints JSON lines: session events, learned routes (unless --quiet), and a
 * periodic summary; with --install-routes learned routes go into this namespace's kernel.
 */
export async function runBgpSpeaker(o: BgpSpeakerCliOptions): Promise<void> {
  // Every flag is checked before the speaker starts (one line naming the flag, exit 2).
  const asn = intInRange("--asn", o.asn, 1, 0xffffffff);
  const routerId = ipv4Address("--router-id", o.routerId);
  const clusterId = o.clusterId === undefined ? undefined : ipv4Address("--cluster-id", o.clusterId);
  // RFC 4271 §4.2: the hold time is 0 or at least 3 seconds.
  const holdTime = intInRange("--hold", o.hold, 0, 65535);
  if (holdTime > 0 && holdTime < 3) throw new UsageError("--hold", `"${o.hold}" must be 0 or 3 to 65535`);
  const connectRetrySeconds = positiveInt("--connect-retry", o.connectRetry);
  const [host, port] = o.listen ? splitHostPort(o.listen) : [undefined, undefined];
  const announce = (o.announce?.split(",").filter(Boolean) ?? []).map((p) => cidrValue("--announce", p));
  if (o.nextHop !== undefined && !ipaddr.isValid(o.nextHop))
    throw new UsageError("--next-hop", `"${o.nextHop}" is not an IP address`);
  const peers = flagCheck(() => o.peer.map((s) => withPassword(parsePeerSpec(s), readPasswordFile)));
  const print = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  // Learned routes are this namespace's desired Strata routes, planned and applied like the agent's.
  const installer = o.installRoutes
    ? new LearnedRoutesInKernel(createIproute2Kernel(), currentNetns, {
        dev: o.routeDev,
        onProblem: (p) => print({ event: "route-not-installed", ...p }),
        onError: (err) => print({ event: "route-install-failed", error: describeError(err) }),
      })
    : undefined;
  const speaker = new BgpSpeaker({
    asn,
    routerId,
    clusterId,
    holdTime,
    connectRetrySeconds,
    listen: o.listen ? { host, port } : undefined,
    nextHop: o.nextHop,
    onEvent: (e) => print(e),
    onRoutes: (changes) => {
      if (!o.quiet) for (const c of changes) print({ event: "route", ...c });
      void installer?.update(changes);
    },
  });
  for (const p of announce) speaker.originate(p);
  await speaker.start(peers);
  print({ event: "listening", port: speaker.port });
  const summary = setInterval(
    () =>
      print({
        event: "summary",
        routes: speaker.ribSize,
        updatesReceived: speaker.updatesReceived,
        rejected: speaker.sessions().reduce((n, s) => n + s.rejectedTotal, 0),
        rssBytes: process.memoryUsage().rss,
      }),
    1000,
  );
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      clearInterval(summary);
      void speaker.stop().then(() => process.exit(0));
    });
  }
}

/** Pure: `--listen [HOST:]PORT`. */
export function splitHostPort(s: string): [string | undefined, number] {
  const i = s.lastIndexOf(":");
  const host = i < 0 ? undefined : s.slice(0, i) || undefined;
  if (host !== undefined && !ipaddr.isValid(host.replace(/^\[|\]$/g, "")))
    throw new UsageError("--listen", `"${host}" is not an IP address (write [HOST:]PORT)`);
  // 0: any free port (tests read the port from the "listening" line).
  return [host, portNumber("--listen", i < 0 ? s : s.slice(i + 1), true)];
}
