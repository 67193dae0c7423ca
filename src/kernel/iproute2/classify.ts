import type { KernelErrorKind } from "../errors.js";

/** Map iproute2/bridge/shell error text to the kind a caller can act on. Order matters. */
export function classifyError(stderr: string): KernelErrorKind {
  const s = stderr.toLowerCase();
  if (
    s.includes("unknown device type") ||
    s.includes("not supported") ||
    s.includes("protocol not available")
  ) {
    return "unsupported";
  }
  if (s.includes("operation not permitted") || s.includes("permission denied")) return "permission";
  if (s.includes("file exists") || s.includes("already exists") || s.includes("already assigned"))
    return "exists";
  if (
    s.includes("cannot find device") ||
    s.includes("not found") ||
    s.includes("does not exist") ||
    s.includes("no such device") ||
    s.includes("no such process") ||
    s.includes("no such file or directory") ||
    s.includes("cannot assign requested address") ||
    s.includes("cannot open network namespace")
  ) {
    return "not-found";
  }
  if (
    s.includes("invalid argument") ||
    s.includes("is wrong") ||
    s.includes("invalid") ||
    s.includes("error: ")
  ) {
    return "invalid";
  }
  return "failed";
}
