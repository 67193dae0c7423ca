import { StrataError } from "../../common/errors.js";

/** RFC 7606 §2: what a receiver does about a malformed UPDATE (session reset only as a last resort). */
export type ErrorAction = "session-reset" | "treat-as-withdraw" | "attribute-discard";

/** NOTIFICATION error codes (RFC 4271 §4.5). */
export const BgpError = {
  MessageHeader: 1,
  Open: 2,
  Update: 3,
  HoldTimerExpired: 4,
  Fsm: 5,
  Cease: 6,
} as const;

/** A decoding failure with everything a NOTIFICATION needs (RFC 4271 §6) and the RFC 7606 action. */
export class BgpCodecError extends StrataError {
  constructor(
    readonly errorCode: number,
    readonly subcode: number,
    message: string,
    readonly data: Uint8Array = new Uint8Array(),
    readonly action: ErrorAction = "session-reset",
  ) {
    super(`bgp.${errorCode}.${subcode}`, message);
  }
}
