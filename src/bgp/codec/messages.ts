import { asTrans } from "./as4.js";
import { be16, cat } from "./attributes.js";
import { BgpCodecError, BgpError, HeaderSubcode, OpenSubcode } from "./errors.js";
import { decodeExtendedNextHop, encodeExtendedNextHop } from "./extended-next-hop.js";
import { decodeAddress, encodeAddress } from "./prefix.js";
import {
  type BgpMessage,
  type Capability,
  type CodecContext,
  MessageType,
  type OpenMessage,
} from "./types.js";
import { decodeUpdate, encodeUpdate } from "./update.js";

export const headerLength = 19;
export const maxMessageLength = 4096;
export { asTrans };

function encodeCapability(c: Capability): Uint8Array {
  const tlv = (code: number, body: Uint8Array) => cat(Uint8Array.of(code, body.length), body);
  switch (c.kind) {
    case "extended-next-hop":
      return tlv(5, encodeExtendedNextHop(c));
    case "multiprotocol":
      return tlv(1, cat(be16(c.afi), Uint8Array.of(0, c.safi)));
    case "route-refresh":
      return tlv(2, new Uint8Array());
    case "four-octet-as":
      return tlv(
        65,
        Uint8Array.of((c.asn >>> 24) & 0xff, (c.asn >>> 16) & 0xff, (c.asn >>> 8) & 0xff, c.asn & 0xff),
      );
    case "graceful-restart":
      if (!Number.isInteger(c.restartTime) || c.restartTime < 0 || c.restartTime > 0x0fff)
        throw new RangeError(`graceful restart time ${c.restartTime} is not 0..4095 seconds`);
      return tlv(
        64,
        cat(
          be16((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | c.restartTime),
          ...c.families.map((f) => cat(be16(f.afi), Uint8Array.of(f.safi, f.forwarding ? 0x80 : 0))),
        ),
      );
    case "unknown":
      return tlv(c.code, c.data);
  }
}

/**
 * The graceful-restart capability (RFC 4724 §3): restart flags (R, N) and a 12-bit restart time,
 * then one AFI/SAFI/flags triple per family whose F bit says forwarding state was kept. A length
 * that is not 2 + 4k, or a family listed twice, is a malformed OPEN (no guessing what was meant).
 */
function decodeGracefulRestart(v: Uint8Array): Capability {
  if (v.length < 2 || (v.length - 2) % 4 !== 0)
    throw new BgpCodecError(
      BgpError.Open,
      OpenSubcode.Unspecific,
      `graceful-restart capability of ${v.length} octets (must be 2 + 4 per family)`,
    );
  const head = ((v[0] ?? 0) << 8) | (v[1] ?? 0);
  const families: { afi: number; safi: number; forwarding: boolean }[] = [];
  for (let k = 2; k < v.length; k += 4) {
    const afi = ((v[k] ?? 0) << 8) | (v[k + 1] ?? 0);
    const safi = v[k + 2] ?? 0;
    if (families.some((f) => f.afi === afi && f.safi === safi))
      throw new BgpCodecError(
        BgpError.Open,
        OpenSubcode.Unspecific,
        `graceful-restart capability lists AFI ${afi} SAFI ${safi} twice`,
      );
    families.push({ afi, safi, forwarding: ((v[k + 3] ?? 0) & 0x80) !== 0 });
  }
  return {
    kind: "graceful-restart",
    restarting: (head & 0x8000) !== 0,
    notification: (head & 0x4000) !== 0,
    restartTime: head & 0x0fff,
    families,
  };
}

function decodeCapabilities(b: Uint8Array): Capability[] {
  const out: Capability[] = [];
  let i = 0;
  while (i < b.length) {
    const code = b[i] as number;
    const len = b[i + 1] ?? 0;
    if (i + 2 + len > b.length)
      throw new BgpCodecError(BgpError.Open, OpenSubcode.Unspecific, "capability overruns its parameter");
    const v = b.subarray(i + 2, i + 2 + len);
    if (code === 5 && len > 0 && len % 6 === 0) out.push(decodeExtendedNextHop(v));
    else if (code === 1 && len === 4)
      out.push({ kind: "multiprotocol", afi: ((v[0] ?? 0) << 8) | (v[1] ?? 0), safi: v[3] ?? 0 });
    else if (code === 2 && len === 0) out.push({ kind: "route-refresh" });
    else if (code === 65 && len === 4)
      out.push({
        kind: "four-octet-as",
        asn: (v[0] ?? 0) * 2 ** 24 + ((v[1] ?? 0) << 16) + ((v[2] ?? 0) << 8) + (v[3] ?? 0),
      });
    else if (code === 64) out.push(decodeGracefulRestart(v));
    else out.push({ kind: "unknown", code, data: Uint8Array.from(v) });
    i += 2 + len;
  }
  return out;
}

function encodeOpen(m: OpenMessage): Uint8Array {
  const caps = cat(...m.capabilities.map(encodeCapability));
  const params = caps.length > 0 ? cat(Uint8Array.of(2, caps.length), caps) : new Uint8Array();
  return cat(
    Uint8Array.of(m.version),
    be16(m.asn > 0xffff ? asTrans : m.asn),
    be16(m.holdTime),
    encodeAddress(m.bgpId, 4),
    Uint8Array.of(params.length),
    params,
  );
}

function decodeOpen(b: Uint8Array): OpenMessage {
  if (b.length < 10)
    throw new BgpCodecError(
      BgpError.MessageHeader,
      HeaderSubcode.BadMessageLength,
      "OPEN too short",
      be16(b.length + headerLength),
    );
  const version = b[0] as number;
  if (version !== 4)
    throw new BgpCodecError(
      BgpError.Open,
      OpenSubcode.UnsupportedVersionNumber,
      `unsupported BGP version ${version}`,
      be16(4),
    );
  const myAs = ((b[1] ?? 0) << 8) | (b[2] ?? 0);
  const holdTime = ((b[3] ?? 0) << 8) | (b[4] ?? 0);
  // RFC 4271 §6.2: hold time 1 or 2 seconds is unacceptable.
  if (holdTime === 1 || holdTime === 2)
    throw new BgpCodecError(
      BgpError.Open,
      OpenSubcode.UnacceptableHoldTime,
      `unacceptable hold time ${holdTime}`,
    );
  const bgpId = decodeAddress(b.subarray(5, 9), 4);
  if (bgpId === "0.0.0.0")
    throw new BgpCodecError(BgpError.Open, OpenSubcode.BadBgpIdentifier, "BGP identifier 0.0.0.0");
  const optLen = b[9] as number;
  if (10 + optLen !== b.length)
    throw new BgpCodecError(
      BgpError.Open,
      OpenSubcode.Unspecific,
      "optional parameters length does not match the message",
    );
  const capabilities: Capability[] = [];
  let i = 10;
  while (i < b.length) {
    const type = b[i] as number;
    const len = b[i + 1] ?? 0;
    if (i + 2 + len > b.length)
      throw new BgpCodecError(
        BgpError.Open,
        OpenSubcode.Unspecific,
        "optional parameter overruns the message",
      );
    if (type !== 2)
      throw new BgpCodecError(
        BgpError.Open,
        OpenSubcode.UnsupportedOptionalParameter,
        `unsupported optional parameter ${type}`,
      );
    capabilities.push(...decodeCapabilities(b.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  const four = capabilities.find((c) => c.kind === "four-octet-as");
  const asn = four?.kind === "four-octet-as" ? four.asn : myAs;
  if (asn === 0) throw new BgpCodecError(BgpError.Open, OpenSubcode.BadPeerAs, "peer AS 0");
  return { type: "open", version, asn, holdTime, bgpId, capabilities };
}

/** Encode a whole message: 16 marker octets of 0xff, length, type, body. */
export function encodeMessage(m: BgpMessage, ctx: CodecContext): Uint8Array {
  let type: number;
  let body: Uint8Array;
  switch (m.type) {
    case "open":
      type = MessageType.Open;
      body = encodeOpen(m);
      break;
    case "update":
      type = MessageType.Update;
      body = encodeUpdate(m, ctx);
      break;
    case "notification":
      type = MessageType.Notification;
      body = cat(Uint8Array.of(m.code, m.subcode), m.data);
      break;
    case "keepalive":
      type = MessageType.Keepalive;
      body = new Uint8Array();
      break;
    case "route-refresh":
      type = MessageType.RouteRefresh;
      body = cat(be16(m.afi), Uint8Array.of(0, m.safi));
      break;
  }
  const length = headerLength + body.length;
  if (length > maxMessageLength)
    throw new RangeError(`message of ${length} octets exceeds ${maxMessageLength}`);
  return cat(new Uint8Array(16).fill(0xff), be16(length), Uint8Array.of(type), body);
}

/** Decode one whole message (header included); see framing.ts for splitting a byte stream. */
export function decodeMessage(b: Uint8Array, ctx: CodecContext): BgpMessage {
  if (b.length < headerLength)
    throw new BgpCodecError(
      BgpError.MessageHeader,
      HeaderSubcode.BadMessageLength,
      "message shorter than the header",
      be16(b.length),
    );
  for (let i = 0; i < 16; i++)
    if (b[i] !== 0xff)
      throw new BgpCodecError(
        BgpError.MessageHeader,
        HeaderSubcode.ConnectionNotSynchronized,
        "connection not synchronized (bad marker)",
      );
  const length = ((b[16] ?? 0) << 8) | (b[17] ?? 0);
  const type = b[18] as number;
  if (length < headerLength || length > maxMessageLength || length !== b.length) {
    throw new BgpCodecError(
      BgpError.MessageHeader,
      HeaderSubcode.BadMessageLength,
      `bad message length ${length}`,
      be16(length),
    );
  }
  const body = b.subarray(headerLength);
  switch (type) {
    case MessageType.Open:
      return decodeOpen(body);
    case MessageType.Update:
      if (length < 23)
        throw new BgpCodecError(
          BgpError.MessageHeader,
          HeaderSubcode.BadMessageLength,
          `bad message length ${length}`,
          be16(length),
        );
      return decodeUpdate(body, ctx);
    case MessageType.Notification:
      if (body.length < 2)
        throw new BgpCodecError(
          BgpError.MessageHeader,
          HeaderSubcode.BadMessageLength,
          `bad message length ${length}`,
          be16(length),
        );
      return {
        type: "notification",
        code: body[0] as number,
        subcode: body[1] as number,
        data: Uint8Array.from(body.subarray(2)),
      };
    case MessageType.Keepalive:
      if (length !== headerLength)
        throw new BgpCodecError(
          BgpError.MessageHeader,
          HeaderSubcode.BadMessageLength,
          `bad message length ${length}`,
          be16(length),
        );
      return { type: "keepalive" };
    case MessageType.RouteRefresh:
      if (body.length !== 4)
        throw new BgpCodecError(
          BgpError.MessageHeader,
          HeaderSubcode.BadMessageLength,
          `bad message length ${length}`,
          be16(length),
        );
      return { type: "route-refresh", afi: ((body[0] ?? 0) << 8) | (body[1] ?? 0), safi: body[3] as number };
    default:
      throw new BgpCodecError(
        BgpError.MessageHeader,
        HeaderSubcode.BadMessageType,
        `bad message type ${type}`,
        Uint8Array.of(type),
      );
  }
}
