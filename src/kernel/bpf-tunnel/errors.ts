import { StrataError } from "../../common/errors.js";

/** Why the BPF tunnel datapath refused or failed, as a stable code `bpf-tunnel.<kind>`. */
export type BpfTunnelErrorKind = "unavailable" | "invalid-config" | "invalid-peers" | "failed";

export class BpfTunnelError extends StrataError {
  readonly kind: BpfTunnelErrorKind;
  constructor(kind: BpfTunnelErrorKind, message: string, options?: { cause?: unknown }) {
    super(`bpf-tunnel.${kind}`, message, options);
    this.kind = kind;
  }
}
