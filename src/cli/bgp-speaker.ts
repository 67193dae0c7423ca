import ipaddr from "ipaddr.js";
import { LearnedRoutesInKernel } from "../bgp/speaker/learned-routes-in-kernel.js";
import { parsePeerSpec, withPassword } from "../bgp/speaker/peer-spec.js";
import { BgpSpeaker } from "../bgp/speaker/speaker.js";
import { readPasswordFile } from "../bgp/speaker/tcp-security.js";
import { warmUp } from "../bgp/speaker/warm-up.js";
import { describeError } from "../common/errors.js";
import { currentNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { withRtnetlink } from "../kernel/rtnetlink/driver.js";
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
  restartTime?: string;
  restarting?: boolean;
  withdrawOnStop?: boolean;
  announce?: string;
  nextHop?: string;
  ipv6?: boolean;
  installRoutes?: boolean;
  routeDev?: string;
  quiet?: boolean;
  /**
   * src/bgp/speaker/warm-up.ts right after listening (default); false with --no-warm-up. The
   * node agent's embedded speaker never warms up (it does not come through here).
   */
  warmUp?: boolean;
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
  // RFC 4724 §3: the restart time is 12 bits of seconds.
  const restartTime = intInRange("--restart-time", o.restartTime ?? "120", 0, 4095);
  if (o.restarting && restartTime === 0)
    throw new UsageError("--restarting", "needs graceful restart (a --restart-time above 0)");
  const [host, port] = o.listen ? splitHostPort(o.listen) : [undefined, undefined];
  const announce = (o.announce?.split(",").filter(Boolean) ?? []).map((p) => cidrValue("--announce", p));
  const { nextHop, ipv6NextHop } = nextHopFlag(o.nextHop);
  const peers = flagCheck(() => o.peer.map((s) => withPassword(parsePeerSpec(s), readPasswordFile)));
  const print = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  // Learned routes are this namespace's desired Strata routes, planned and applied like the agent's.
  const installer = o.installRoutes
    ? new LearnedRoutesInKernel(withRtnetlink(createIproute2Kernel()), currentNetns, {
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
    gracefulRestart: restartTime === 0 ? false : { restartTime, restarting: o.restarting === true },
    listen: o.listen ? { host, port } : undefined,
    nextHop,
    ipv6NextHop,
    // IPv6 unicast is negotiated when asked for, or when there is IPv6 to announce.
    ipv6: o.ipv6 === true || announce.some((p) => p.includes(":")),
    onEvent: (e) => print(e),
    // None with --quiet and nothing to install: a reflector then builds no per-route change list.
    onRoutes:
      o.quiet && !installer
        ? undefined
        : (changes) => {
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
        ignoredFamilies: speaker.sessions().reduce((n, s) => n + s.ignoredFamilies, 0),
        rssBytes: process.memoryUsage().rss,
      }),
    1000,
  );
  // A stop is a restart unless told otherwise: with graceful restart on, peers keep our routes for
  // the restart time (those with the N bit get a non-final Cease, RFC 8538; the others a closed
  // connection, RFC 4724) — as when the process is killed. --withdraw-on-stop: they drop them now.
  const graceful = o.withdrawOnStop !== true && restartTime > 0;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      clearInterval(summary);
      print({ event: "stopping", signal: sig, peersKeepRoutes: graceful });
      void speaker.stop({ graceful }).then(() => process.exit(0));
    });
  }
  // After listening and dialling, never before: a peer that dials meanwhile is accepted by the
  // kernel and served between the warm-up's socket events (its I/O is asynchronous too), instead
  // of being refused and waiting out its connect-retry timer (BIRD's: 120 s).
  if (o.warmUp !== false) {
    print({ event: "warming-up" });
    const w = await warmUp();
    print({ event: "warmed-up", ...w, ms: Math.round(w.ms) });
  }
}

/**
 * Pure: `--next-hop`: an IPv4 address, an IPv6 one, or one of each comma-separated (the IPv4 one
 * also serves IPv4 routes over IPv6 sessions, the IPv6 one IPv6 routes over IPv4 sessions).
 */
export function nextHopFlag(value: string | undefined): { nextHop?: string; ipv6NextHop?: string } {
  const out: { nextHop?: string; ipv6NextHop?: string } = {};
  for (const a of value?.split(",") ?? []) {
    if (!ipaddr.isValid(a))
      throw new UsageError("--next-hop", `"${a}" is not an IP address (write IPV4[,IPV6])`);
    const key = a.includes(":") ? "ipv6NextHop" : "nextHop";
    if (out[key] !== undefined)
      throw new UsageError("--next-hop", `two IPv${key === "nextHop" ? 4 : 6} addresses (write IPV4[,IPV6])`);
    out[key] = a;
  }
  return out;
}

/** Pure: `--listen [HOST:]PORT` (an IPv6 host in brackets: `[::]:179`). */
export function splitHostPort(s: string): [string | undefined, number] {
  const i = s.lastIndexOf(":");
  const written = i < 0 ? undefined : s.slice(0, i) || undefined;
  const host = written?.replace(/^\[|\]$/g, "");
  if (host !== undefined && !ipaddr.isValid(host))
    throw new UsageError("--listen", `"${written}" is not an IP address (write [HOST:]PORT)`);
  // 0: any free port (tests read the port from the "listening" line).
  return [host, portNumber("--listen", i < 0 ? s : s.slice(i + 1), true)];
}
