/**
 * Base of every error Strata throws on purpose. `code` is stable and machine-readable;
 * the message says what went wrong and, where possible, what to fix.
 */
export class StrataError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Render any thrown value as one line, for logs and CNI error details. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
