import { KernelError, type KernelErrorKind } from "../errors.js";
import { classifyError } from "../iproute2/classify.js";

/** What the addon's sysctlRead/sysctlWrite say of a failure: where, and the errno with its text. */
export interface SysctlFailure {
  readonly errno: number;
  readonly error: string;
  readonly stage: string;
}

const ENOENT = 2;
const ENOTDIR = 20;

/**
 * A failed native /proc/sys read or write as a KernelError of the kind the iproute2 driver gives
 * for the same failure, where it runs `nsenter --net=P cat FILE` and `nsenter --net=P sh -c
 * 'printf "%s" VALUE > FILE'` (the words below are those programs' words for the same errno, so
 * classifyError sorts them alike): a namespace that cannot be opened is nsenter's failure; a
 * file that cannot be opened for writing is the shell's "cannot create" (for ENOENT and ENOTDIR it
 * says "Directory nonexistent": "failed", not "not-found", as today); and a failed write is
 * "failed" whatever its errno, as the shell's printf reports every write failure as an I/O error.
 */
export function sysctlError(
  what: "read" | "write",
  file: string,
  nsPath: string,
  f: SysctlFailure,
  opts: { operation: string; failedOpIndex?: number },
): KernelError {
  let detail: string;
  let kind: KernelErrorKind;
  if (f.stage === "netns") {
    detail = `cannot open ${nsPath}: ${f.error}`;
    kind = classifyError(detail);
  } else if (what === "read") {
    detail = `${file}: ${f.error}`;
    kind = classifyError(detail);
  } else if (f.stage === "open") {
    const shellWords = f.errno === ENOENT || f.errno === ENOTDIR ? "Directory nonexistent" : f.error;
    detail = `cannot create ${file}: ${shellWords}`;
    kind = classifyError(detail);
  } else {
    detail = `write ${file}: ${f.error}`;
    kind = "failed";
  }
  return new KernelError(kind, opts.operation, detail, { failedOpIndex: opts.failedOpIndex });
}
