import { StrataError } from "../common/errors.js";
import type { KernelOp } from "./api.js";

/** Why a kernel operation failed, in terms a caller can act on. */
export type KernelErrorKind = "exists" | "not-found" | "unsupported" | "permission" | "invalid" | "failed";

export class KernelError extends StrataError {
  readonly kind: KernelErrorKind;
  /** The operation as the driver rendered it (e.g. the iproute2 command line), for diagnostics. */
  readonly operation: string;
  /** For Kernel.apply: the index of the op that failed (every op before it was applied). */
  readonly failedOpIndex: number | undefined;
  constructor(
    kind: KernelErrorKind,
    operation: string,
    message: string,
    options?: { cause?: unknown; failedOpIndex?: number },
  ) {
    super(`kernel.${kind}`, `${operation}: ${message}`, options);
    this.kind = kind;
    this.operation = operation;
    this.failedOpIndex = options?.failedOpIndex;
  }
}

export const isKernelError = (err: unknown, kind?: KernelErrorKind): err is KernelError =>
  err instanceof KernelError && (kind === undefined || err.kind === kind);

/** Does `op` tolerate this failure kind (add-if-absent, delete-if-present)? Every driver's rule. */
export function tolerated(op: KernelOp, kind: KernelErrorKind): boolean {
  if (kind === "exists") return "ifAbsent" in op && op.ifAbsent === true;
  if (kind === "not-found") return "ifPresent" in op && op.ifPresent === true;
  return false;
}
