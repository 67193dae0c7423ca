import type { Command } from "commander";
import { peerSpecSyntax } from "../bgp/speaker/peer-spec.js";
import { type BgpSpeakerCliOptions, runBgpSpeaker } from "./bgp-speaker.js";

/** `strata bgp-speaker` on `program` (the full CLI's, or the speaker's own: bgp-speaker-main.ts). */
export function registerBgpSpeakerCommand(program: Command): void {
  program
    .command("bgp-speaker")
    .description("run Strata's BGP speaker: sessions, routes and a summary as JSON lines")
    .requiredOption("--asn <asn>", "our AS")
    .requiredOption("--router-id <id>", "our BGP identifier")
    .option(
      "--peer <spec>",
      `a neighbour: ${peerSpecSyntax} (repeat)`,
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--listen <[host:]port>", "accept sessions here (e.g. 179)")
    .option("--cluster-id <id>", "act as route reflector for rr-client peers")
    .option("--hold <s>", "proposed hold time", "90")
    .option("--connect-retry <s>", "connect retry time", "5")
    .option(
      "--restart-time <s>",
      "graceful restart (RFC 4724): peers keep our routes this long after our session drops, and we keep theirs as theirs ask; 0: off",
      "120",
    )
    .option(
      "--restarting",
      "start as a restarting speaker (R and F bits): select and announce only after every peer's End-of-RIB",
    )
    .option(
      "--withdraw-on-stop",
      "on SIGTERM/SIGINT make every peer drop our routes (Cease, as a Hard Reset to RFC 8538 peers); by default, with graceful restart on, peers keep them for --restart-time while we come back",
    )
    .option("--announce <prefixes>", "comma-separated prefixes to originate")
    .option(
      "--next-hop <addresses>",
      "NEXT_HOP of originated routes, IPV4[,IPV6] (default: the session's address; the IPv4 one also for IPv4 routes over IPv6 sessions)",
    )
    .option("--ipv6", "negotiate IPv6 unicast (implied when --announce has IPv6 prefixes)")
    .option("--install-routes", "put learned routes into this namespace's kernel")
    .option("--route-dev <dev>", "device for installed routes")
    .option("--quiet", "no line per learned route")
    .option(
      "--warm-up",
      "the default: once listening, run the UPDATE path on a throwaway reflector over loopback (~0.7 s of CPU, ~10 MiB) so the first real burst runs optimised code; peers that connect meanwhile are served",
    )
    .option("--no-warm-up", "start cold (less memory and CPU at start; the first burst of UPDATEs is slower)")
    .action((o: BgpSpeakerCliOptions) => runBgpSpeaker(o));
}
