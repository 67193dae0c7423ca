import { StrataError } from "../../common/errors.js";

/** Why the sleeve datapath refused or failed, as a stable code `sleeve.<kind>`. */
export type SleeveErrorKind = "unavailable" | "invalid-config" | "invalid-peers" | "failed";

export class SleeveError extends StrataError {
  readonly kind: SleeveErrorKind;
  constructor(kind: SleeveErrorKind, message: string, options?: { cause?: unknown }) {
    super(`sleeve.${kind}`, message, options);
    this.kind = kind;
  }
}
