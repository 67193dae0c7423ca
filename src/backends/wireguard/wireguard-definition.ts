import { z } from "zod";
import type { BackendDefinition } from "../definition.js";
import { choiceFlag, portFlag, wholeNumberFlag } from "../flag-schemas.js";
import { createWireguardBackend } from "./wireguard.js";

/** Where the key lives when the agent has no --state-dir. */
export const defaultWireguardStateDir = "/var/lib/strata";

import { type WireguardDatapathRequest, wireguardDatapathRequests } from "./wireguard-datapath.js";

export interface WireguardFlagOptions {
  readonly datapath: WireguardDatapathRequest;
  readonly listenPort: number;
  readonly keepalive: number;
  readonly rotateIntervalSeconds: number;
}

const options = z
  .object({
    wireguardDatapath: choiceFlag(wireguardDatapathRequests),
    wireguardPort: portFlag(),
    wireguardKeepalive: wholeNumberFlag(0, 65535),
    wireguardRotateInterval: wholeNumberFlag(0, 365 * 24 * 3600),
  })
  .transform(
    (o): WireguardFlagOptions => ({
      datapath: o.wireguardDatapath,
      listenPort: o.wireguardPort,
      keepalive: o.wireguardKeepalive,
      rotateIntervalSeconds: o.wireguardRotateInterval,
    }),
  );

/** wireguard in the registry: every peer through WireGuard (kernel device or wireguard-go). */
export const wireguardDefinition = {
  name: "wireguard" as const,
  summary:
    "WireGuard-encrypted overlay (IPv4), kernel device or supervised wireguard-go per node; keys published with the lease; pod MTU − 60",
  options,
  cliFlags: [
    {
      flag: "--wireguard-datapath <auto|kernel|wireguard-go>",
      help: "the kernel's WireGuard device (needs the wireguard module), wireguard-go on a TUN device, or auto (kernel where the module exists)",
      default: "auto",
    },
    {
      flag: "--wireguard-port <port>",
      help: "UDP port WireGuard listens on (published with the lease)",
      default: "51820",
    },
    {
      flag: "--wireguard-keepalive <s>",
      help: "persistent keepalive to every peer, seconds (0: off)",
      default: "25",
    },
    {
      flag: "--wireguard-rotate-interval <s>",
      help: "make and publish a new key pair this often, seconds (0: only on `strata agent rotate-key`)",
      default: "0",
    },
  ],
  // The key lives in the agent's --state-dir; an agent without one keeps it in /var/lib/strata.
  create: (o: WireguardFlagOptions, deps) =>
    createWireguardBackend({ ...o, stateDir: deps.stateDir ?? defaultWireguardStateDir }),
} satisfies BackendDefinition<WireguardFlagOptions>;
