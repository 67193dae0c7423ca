import { StrataError } from "../../common/errors.js";

/** RFC 7606 §2: what a receiver does about a malformed UPDATE (session reset only as a last resort). */
export type ErrorAction = "session-reset" | "treat-as-withdraw" | "attribute-discard";

/**
 * The NOTIFICATION error codes and subcodes by name: the one table the codec, the FSM and the
 * speaker use (tests keep the RFC's numbers, so a wrong name here fails them).
 */

/** NOTIFICATION error codes (RFC 4271 §4.5). */
export const BgpError = {
  MessageHeader: 1,
  Open: 2,
  Update: 3,
  HoldTimerExpired: 4,
  Fsm: 5,
  Cease: 6,
} as const;

/** Message Header Error subcodes (RFC 4271 §6.1). */
export const HeaderSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

/** OPEN Message Error subcodes (RFC 4271 §6.2; 0 is "unspecific", RFC 4271 §4.5). */
export const OpenSubcode = {
  Unspecific: 0,
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  /** RFC 5492 §5. */
  UnsupportedCapability: 7,
} as const;

/** UPDATE Message Error subcodes (RFC 4271 §6.3; RFC 7606 decides what each leads to). */
export const UpdateSubcode = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

/** Hold Timer Expired has no subcodes (RFC 4271 §6.5). */
export const HoldTimerSubcode = { Unspecific: 0 } as const;

/** Finite State Machine Error subcodes (RFC 6608 §3; RFC 4271 §6.6 leaves them 0). */
export const FsmSubcode = {
  Unspecified: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3,
} as const;

/** Cease subcodes (RFC 4486 §4). */
export const CeaseSubcode = {
  MaximumPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
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
