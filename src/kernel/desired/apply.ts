import { StrataError } from "../../common/errors.js";
import type { Kernel, KernelOp, Netns } from "../api.js";
import { isKernelError, type KernelError } from "../errors.js";

export interface ApplyFailure {
  readonly op: KernelOp;
  readonly error: KernelError;
}

export interface ApplyResult {
  /** Ops the kernel took. */
  readonly applied: number;
  /** Ops it refused, in order, each with its error. */
  readonly failed: readonly ApplyFailure[];
}

/**
 * Apply a plan in order, in as few driver calls as the failures allow: an op the kernel refuses
 * (a route whose next hop is on no connected network) is recorded and the ops after it still go
 * in, so one bad entry never holds back the rest. Errors that are not about one op (the
 * namespace is gone) are thrown.
 */
export async function applyPlan(kernel: Kernel, ns: Netns, ops: readonly KernelOp[]): Promise<ApplyResult> {
  const failed: ApplyFailure[] = [];
  let applied = 0;
  let start = 0;
  while (start < ops.length) {
    const rest = ops.slice(start);
    try {
      await kernel.apply(ns, rest);
      applied += rest.length;
      break;
    } catch (err) {
      // Kernel.apply: every op before failedOpIndex was applied, none after it.
      if (!isKernelError(err) || err.failedOpIndex === undefined) throw err;
      applied += err.failedOpIndex;
      failed.push({ op: rest[err.failedOpIndex] as KernelOp, error: err });
      start += err.failedOpIndex + 1;
    }
  }
  return { applied, failed };
}

/** A plan applied only in part: which ops the kernel refused, the first one's error as the message. */
export class PlanApplyError extends StrataError {
  readonly failed: readonly ApplyFailure[];
  constructor(failed: readonly ApplyFailure[], total: number) {
    const first = failed[0]?.error.message ?? "unknown";
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more of ${total} ops)` : "";
    super("kernel.plan-partial", `${first}${more}`, { cause: failed[0]?.error });
    this.failed = failed;
  }
}

/** Apply a plan; throws PlanApplyError naming what the kernel refused, after applying the rest. */
export async function applyPlanOrThrow(kernel: Kernel, ns: Netns, ops: readonly KernelOp[]): Promise<void> {
  const r = await applyPlan(kernel, ns, ops);
  if (r.failed.length > 0) throw new PlanApplyError(r.failed, ops.length);
}
