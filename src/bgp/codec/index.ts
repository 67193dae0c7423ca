export { BgpCodecError, BgpError, type ErrorAction } from "./errors.js";
export { BgpFrameParser } from "./framing.js";
export { asTrans, decodeMessage, encodeMessage } from "./messages.js";
export type * from "./types.js";
