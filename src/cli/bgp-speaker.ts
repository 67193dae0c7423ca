import { KernelRouteInstaller } from "../bgp/speaker/kernel-routes.js";
import { parsePeerSpec, withPassword } from "../bgp/speaker/peer-spec.js";
import { BgpSpeaker } from "../bgp/speaker/speaker.js";
import { readPasswordFile } from "../bgp/speaker/tcp-security.js";
import { currentNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";

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
  const print = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  const installer = o.installRoutes
    ? new KernelRouteInstaller(createIproute2Kernel(), currentNetns, o.routeDev)
    : undefined;
  const [host, port] = o.listen ? splitHostPort(o.listen) : [undefined, undefined];
  const speaker = new BgpSpeaker({
    asn: Number(o.asn),
    routerId: o.routerId,
    clusterId: o.clusterId,
    holdTime: Number(o.hold),
    connectRetrySeconds: Number(o.connectRetry),
    listen: o.listen ? { host, port } : undefined,
    nextHop: o.nextHop,
    onEvent: (e) => print(e),
    onRoutes: (changes) => {
      if (!o.quiet) for (const c of changes) print({ event: "route", ...c });
      void installer?.apply(changes);
    },
  });
  for (const p of o.announce?.split(",").filter(Boolean) ?? []) speaker.originate(p);
  await speaker.start(o.peer.map((s) => withPassword(parsePeerSpec(s), readPasswordFile)));
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

function splitHostPort(s: string): [string | undefined, number] {
  const i = s.lastIndexOf(":");
  if (i < 0) return [undefined, Number(s)];
  return [s.slice(0, i) || undefined, Number(s.slice(i + 1))];
}
