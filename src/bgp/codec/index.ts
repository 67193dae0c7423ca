export {
  endOfRib,
  endOfRibFamily,
  type Family,
  familyKey,
  familyOfPrefix,
  ipv4Unicast,
  ipv6Unicast,
} from "./end-of-rib.js";
export {
  BgpCodecError,
  BgpError,
  CeaseSubcode,
  type ErrorAction,
  FsmSubcode,
  HeaderSubcode,
  HoldTimerSubcode,
  OpenSubcode,
  UpdateSubcode,
} from "./errors.js";
export { BgpFrameParser } from "./framing.js";
export { asTrans, decodeMessage, encodeMessage } from "./messages.js";
export type * from "./types.js";
