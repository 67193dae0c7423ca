import { CniError, CniErrorCode } from "../../cni/errors.js";
import { describeError } from "../../common/errors.js";
import { isKernelError } from "../../kernel/errors.js";

/**
 * A failure of a kernel step as the runtime should see it, `what` naming the step ("wiring the
 * veth pair"). A CniError passes through unchanged; a missing kernel feature is 101 (the node
 * needs it, retrying will not help); a namespace that is gone is the spec's 3 (unknown container:
 * the runtime removed it under us); anything else the kernel refused is 102 with its text.
 */
export function kernelToCni(err: unknown, what: string): CniError {
  if (err instanceof CniError) return err;
  if (isKernelError(err, "unsupported")) {
    return new CniError(
      CniErrorCode.KernelUnsupported,
      `${what}: this kernel lacks a needed feature`,
      err.message,
    );
  }
  if (isKernelError(err, "not-found") && /netns|namespace/i.test(err.message)) {
    return new CniError(
      CniErrorCode.UnknownContainer,
      `${what}: the container's network namespace is gone`,
      err.message,
    );
  }
  return new CniError(CniErrorCode.KernelFailure, `${what} failed`, describeError(err));
}

/**
 * The error ADD throws after its undo stack ran: the step's error, and what the undo could not
 * remove appended to its details, so the operator knows what is left behind.
 */
export function addFailure(err: unknown, leftovers: readonly string[]): CniError {
  const cniErr = kernelToCni(err, "ADD");
  if (leftovers.length === 0) return cniErr;
  return new CniError(
    cniErr.cniCode,
    cniErr.message,
    `${cniErr.details}; cleanup also failed: ${leftovers.join("; ")}`,
    { cause: err },
  );
}
