import { StrataError } from "../../common/errors.js";

/** Where WireGuard runs on a node: the kernel's device, or wireguard-go on a TUN device. */
export type WireguardDatapath = "kernel" | "wireguard-go";
export type WireguardDatapathRequest = "auto" | WireguardDatapath;
export const wireguardDatapathRequests: readonly WireguardDatapathRequest[] = [
  "auto",
  "kernel",
  "wireguard-go",
];

export interface WireguardDatapathChoice {
  readonly datapath: WireguardDatapath;
  /** Shown in /healthz and the log: why this one (and why not the kernel's). */
  readonly reason: string;
}

export interface WireguardDatapathOffer {
  /** The kernel can create a `wireguard` link (Kernel.probe()). */
  readonly kernelModule: boolean;
  /** wireguard-go and what runs it (unshare, mount) are installed; else why not. */
  readonly wireguardGo: { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

export class WireguardDatapathError extends StrataError {
  constructor(message: string) {
    super("backend.wireguard-datapath", message);
  }
}

/**
 * Pure: the datapath `--wireguard-datapath` asks for on what the node offers. `auto` prefers the
 * kernel's device (no process to supervise, no copies through a TUN device) and falls back to
 * wireguard-go. A refusal is one line naming what is missing and the other choice.
 */
export function chooseWireguardDatapath(
  requested: WireguardDatapathRequest,
  offer: WireguardDatapathOffer,
): WireguardDatapathChoice {
  const go = offer.wireguardGo;
  if (requested === "kernel") {
    if (offer.kernelModule) return { datapath: "kernel", reason: "--wireguard-datapath kernel" };
    throw new WireguardDatapathError(
      "--wireguard-datapath kernel: this kernel has no wireguard module (a wireguard link cannot be created); use --wireguard-datapath wireguard-go (or auto)",
    );
  }
  if (requested === "wireguard-go") {
    if (go.ok) return { datapath: "wireguard-go", reason: "--wireguard-datapath wireguard-go" };
    throw new WireguardDatapathError(`--wireguard-datapath wireguard-go: ${go.reason}`);
  }
  if (offer.kernelModule) return { datapath: "kernel", reason: "auto: the kernel has the wireguard module" };
  if (go.ok)
    return {
      datapath: "wireguard-go",
      reason:
        "auto: this kernel has no wireguard module (a wireguard link cannot be created); wireguard-go runs on a TUN device",
    };
  throw new WireguardDatapathError(
    `--wireguard-datapath auto: this kernel has no wireguard module and ${go.reason}`,
  );
}
