import { StrataError } from "../../common/errors.js";
import type { TunnelProto } from "../../kernel/bpf-tunnel/api.js";

/**
 * Where a tunnel backend encapsulates: the kernel's own tunnel device, the tc-BPF datapath, or —
 * where neither works — the sleeve userspace datapath (pod packets in UDP, not IPIP/GRE).
 */
export type TunnelDatapath = "kernel" | "bpf" | "sleeve";

/** What `--datapath` asks for; `auto` takes the kernel device where the module exists. */
export type TunnelDatapathRequest = "auto" | TunnelDatapath;

export const tunnelDatapathRequests: readonly TunnelDatapathRequest[] = ["auto", "kernel", "bpf", "sleeve"];

/** The datapath a node uses and why (shown in /healthz). */
export interface TunnelDatapathChoice {
  readonly datapath: TunnelDatapath;
  readonly reason: string;
}

/** What the node offers, found before anything is leased. */
export interface TunnelDatapathOffer {
  /** The kernel can create a link of the tunnel's kind (Kernel.probe()). */
  readonly kernelModule: boolean;
  /** The tc-BPF datapath's own answer (the object is built, the kernel takes it). */
  readonly bpf: { readonly ok: true } | { readonly ok: false; readonly reason: string };
  /** The sleeve helper's answer (built, /dev/net/tun present); absent: not asked. */
  readonly sleeve?: { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

/** The datapath asked for cannot run on this node: the message names what is missing and what to use. */
export class TunnelDatapathError extends StrataError {
  constructor(message: string) {
    super("backend.tunnel-datapath", message);
  }
}

/** The reason the BPF datapath cannot run, with how to build it when the reason does not say. */
const bpfMissing = (reason: string) =>
  /clang/.test(reason)
    ? reason
    : `${reason} (its object is compiled by clang at build time: apt-get install clang llvm libbpf-dev, then npm run build)`;

/**
 * Pure: the datapath for `proto` on a node, as `--datapath` asks: `kernel` needs the tunnel
 * module, `bpf` the compiled tc-BPF object, `auto` prefers the kernel device (no program to
 * load; Calico's pattern) and falls back to BPF. Throws TunnelDatapathError, one line naming the
 * missing part and the other choice.
 */
export function chooseTunnelDatapath(
  proto: TunnelProto,
  requested: TunnelDatapathRequest,
  offer: TunnelDatapathOffer,
): TunnelDatapathChoice {
  if (requested === "kernel") {
    if (offer.kernelModule)
      return { datapath: "kernel", reason: `--datapath kernel: the kernel has ${proto}` };
    throw new TunnelDatapathError(
      `--datapath kernel: this kernel has no ${proto} module (an ${proto} device cannot be created); use --datapath bpf (or auto)`,
    );
  }
  if (requested === "sleeve") {
    if (offer.sleeve?.ok) return { datapath: "sleeve", reason: "--datapath sleeve" };
    throw new TunnelDatapathError(
      `--datapath sleeve: the sleeve datapath cannot run: ${offer.sleeve && !offer.sleeve.ok ? offer.sleeve.reason : "not built"}`,
    );
  }
  if (requested === "bpf") {
    if (offer.bpf.ok) return { datapath: "bpf", reason: "--datapath bpf" };
    throw new TunnelDatapathError(
      `--datapath bpf: the tc-BPF ${proto} datapath cannot run: ${bpfMissing(offer.bpf.reason)}`,
    );
  }
  if (offer.kernelModule) return { datapath: "kernel", reason: `auto: the kernel has the ${proto} module` };
  if (offer.bpf.ok)
    return { datapath: "bpf", reason: `auto: this kernel has no ${proto} module; tc-BPF encapsulates` };
  // Weave's fallback: neither fast datapath works, the userspace one keeps pods talking.
  if (offer.sleeve?.ok)
    return {
      datapath: "sleeve",
      reason: `auto: this kernel has no ${proto} module and tc-BPF cannot run (${offer.bpf.reason}); sleeve (userspace, UDP) carries the pods' packets`,
    };
  throw new TunnelDatapathError(
    `--datapath auto: this kernel has no ${proto} module and the tc-BPF datapath cannot run: ${bpfMissing(offer.bpf.reason)}${offer.sleeve && !offer.sleeve.ok ? `; nor sleeve: ${offer.sleeve.reason}` : ""}`,
  );
}
