import { StrataError } from "../common/errors.js";

/**
 * A NetworkAttachmentDefinition, a pod's `k8s.v1.cni.cncf.io/networks` annotation or a stored
 * record that does not say what it must. `kind` is stable; the message names the object and the fix.
 */
export class NetAttachError extends StrataError {
  constructor(
    readonly kind: "invalid-definition" | "invalid-annotation" | "not-found" | "invalid-record",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`netattach.${kind}`, message, options);
  }
}
