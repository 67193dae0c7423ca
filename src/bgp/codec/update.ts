import { forNewSpeaker, forOldSpeaker, mergeFromOldSpeaker } from "./as4.js";
import { AttrError, attributeTable, be16, cat, encodeAttribute, Flag, findAttribute } from "./attributes.js";
import { BgpCodecError, BgpError, UpdateSubcode } from "./errors.js";
import { checkNextHops } from "./next-hop.js";
import { ownBytes } from "./own-bytes.js";
import { decodePrefixes, encodePrefixes } from "./prefix.js";
import type {
  CodecContext,
  DecodedAttributes,
  ErrorOutcome,
  PathAttributes,
  UpdateMessage,
} from "./types.js";

/** Body of an UPDATE (after the 19-byte header). */
export function encodeUpdate(m: UpdateMessage, ctx: CodecContext): Uint8Array {
  const withdrawn = encodePrefixes(m.withdrawn, 4);
  const attrs: Uint8Array[] = [];
  const a = ctx.fourOctetAs ? forNewSpeaker(m.attributes) : forOldSpeaker(m.attributes);
  for (const row of attributeTable) {
    const value = a[row.key];
    if (value === undefined) continue;
    // biome-ignore lint/suspicious/noExplicitAny: the table pairs each key with its own codec.
    attrs.push(encodeAttribute(row.flags, row.code, (row.encode as any)(value, ctx)));
  }
  for (const u of a.unknown ?? []) {
    // RFC 4271 §9: an unrecognised optional transitive attribute is passed on with Partial set
    // (§5); a non-transitive one is never passed on.
    if (!(u.flags & Flag.Transitive)) continue;
    attrs.push(encodeAttribute(u.flags | Flag.Partial, u.code, u.data));
  }
  const attrBytes = cat(...attrs);
  return cat(be16(withdrawn.length), withdrawn, be16(attrBytes.length), attrBytes, encodePrefixes(m.nlri, 4));
}

/**
 * Decode an UPDATE body. Unrecoverable errors throw BgpCodecError (session reset); recoverable
 * ones (RFC 7606) are applied and listed in `outcomes`: a treat-as-withdraw outcome means the
 * message's NLRI must be handled as withdrawn.
 */
export function decodeUpdate(b: Uint8Array, ctx: CodecContext): UpdateMessage {
  if (b.length < 4)
    throw new BgpCodecError(
      BgpError.Update,
      UpdateSubcode.MalformedAttributeList,
      "UPDATE shorter than its length fields",
    );
  const wLen = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  if (2 + wLen + 2 > b.length)
    throw new BgpCodecError(
      BgpError.Update,
      UpdateSubcode.MalformedAttributeList,
      "withdrawn routes length overruns the message",
    );
  let withdrawn: string[];
  try {
    withdrawn = decodePrefixes(b.subarray(2, 2 + wLen), 4);
  } catch (err) {
    // A withdrawn-routes field we cannot parse leaves no safe interpretation (RFC 7606 §5.3).
    throw new BgpCodecError(
      BgpError.Update,
      UpdateSubcode.MalformedAttributeList,
      `withdrawn routes are malformed: ${(err as Error).message}`,
    );
  }
  const aLen = ((b[2 + wLen] ?? 0) << 8) | (b[3 + wLen] ?? 0);
  const aStart = 4 + wLen;
  if (aStart + aLen > b.length)
    throw new BgpCodecError(
      BgpError.Update,
      UpdateSubcode.MalformedAttributeList,
      "path attribute length overruns the message",
    );
  const memo = ctx.decodedAttributes;
  const hasNlri = aStart + aLen < b.length;
  // The usual repeat is the section just seen on this session: compared byte by byte, no key made.
  const last = memo && aLen > 0 ? lastSections.get(memo) : undefined;
  const same =
    last !== undefined && last.hasNlri === hasNlri && sameBytes(last.bytes, b, aStart, aStart + aLen);
  // Whether NLRI follow matters to the checks (mandatory attributes, NEXT_HOP): part of the key.
  const memoKey =
    memo && aLen > 0 && !same
      ? (hasNlri ? "1" : "0") + attributeSectionKey(b, aStart, aStart + aLen)
      : undefined;
  const hit = same ? last.entry : memoKey !== undefined ? memo?.get(memoKey) : undefined;
  if (hit && memo && !same)
    lastSections.set(memo, { bytes: ownBytes(b.subarray(aStart, aStart + aLen)), hasNlri, entry: hit });
  if (hit) {
    const nlri = decodeNlri(b.subarray(aStart + aLen));
    return {
      type: "update",
      withdrawn,
      attributes: hit.attributes,
      nlri,
      ...(hit.outcomes ? { outcomes: hit.outcomes } : {}),
    };
  }
  const attrs: Record<string, unknown> = {};
  const unknown: { flags: number; code: number; data: Uint8Array }[] = [];
  const outcomes: ErrorOutcome[] = [];
  const seen = new Set<number>();
  let i = aStart;
  const end = aStart + aLen;
  while (i < end) {
    if (i + 3 > end) {
      outcomes.push({
        action: "treat-as-withdraw",
        attribute: 0,
        subcode: UpdateSubcode.MalformedAttributeList,
        reason: "truncated attribute header",
      });
      break;
    }
    const flags = b[i] as number;
    const code = b[i + 1] as number;
    const ext = (flags & Flag.ExtendedLength) !== 0;
    if (ext && i + 4 > end) {
      outcomes.push({
        action: "treat-as-withdraw",
        attribute: code,
        subcode: UpdateSubcode.MalformedAttributeList,
        reason: "truncated attribute header",
      });
      break;
    }
    const len = ext ? ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0) : (b[i + 2] as number);
    const bodyStart = i + (ext ? 4 : 3);
    if (bodyStart + len > end) {
      // RFC 7606 §4: an attribute overrunning the attribute section → treat-as-withdraw.
      outcomes.push({
        action: "treat-as-withdraw",
        attribute: code,
        subcode: UpdateSubcode.AttributeLengthError,
        reason: "attribute length overruns the attribute section",
      });
      break;
    }
    const body = b.subarray(bodyStart, bodyStart + len);
    i = bodyStart + len;
    if (seen.has(code)) {
      if (code === 14 || code === 15)
        throw new BgpCodecError(
          BgpError.Update,
          UpdateSubcode.MalformedAttributeList,
          "MP_REACH/MP_UNREACH_NLRI appears twice",
        );
      continue; // RFC 7606 §3.g: keep the first, discard repeats
    }
    seen.add(code);
    const row = findAttribute(code);
    if (!row) {
      if (!(flags & Flag.Optional)) {
        throw new BgpCodecError(
          BgpError.Update,
          UpdateSubcode.UnrecognizedWellKnownAttribute,
          `unrecognized well-known attribute ${code}`,
          b.subarray(bodyStart - (ext ? 4 : 3), bodyStart + len),
        );
      }
      // RFC 4271 §9: an unrecognised optional non-transitive attribute is quietly ignored; a
      // transitive one is kept to pass on.
      if (flags & Flag.Transitive) unknown.push({ flags, code, data: Uint8Array.from(body) });
      continue;
    }
    if ((flags & (Flag.Optional | Flag.Transitive)) !== row.flags) {
      if (code === 14 || code === 15)
        throw new BgpCodecError(
          BgpError.Update,
          UpdateSubcode.AttributeFlagsError,
          `attribute ${code} has wrong flags`,
        );
      outcomes.push({
        action: "treat-as-withdraw",
        attribute: code,
        subcode: UpdateSubcode.AttributeFlagsError,
        reason: `attribute ${code} has wrong flags`,
      });
      continue;
    }
    try {
      attrs[row.key] = row.decode(body, ctx);
    } catch (err) {
      if (!(err instanceof AttrError)) throw err;
      if (err.action === "session-reset")
        throw new BgpCodecError(BgpError.Update, err.subcode, err.message, body);
      outcomes.push({ action: err.action, attribute: code, subcode: err.subcode, reason: err.message });
    }
  }
  const nlri = decodeNlri(b.subarray(end));
  const hasReach = nlri.length > 0 || attrs.mpReach !== undefined;
  if (hasReach) {
    // RFC 4271 §6.3 / RFC 7606 §3.d: missing mandatory attributes → treat-as-withdraw.
    const needed: [number, string][] = [
      [1, "origin"],
      [2, "asPath"],
      ...(nlri.length > 0 ? ([[3, "nextHop"]] as [number, string][]) : []),
    ];
    for (const [code, key] of needed) {
      if (attrs[key] === undefined && !outcomes.some((o) => o.attribute === code)) {
        outcomes.push({
          action: "treat-as-withdraw",
          attribute: code,
          subcode: UpdateSubcode.MissingWellKnownAttribute,
          reason: `missing well-known attribute ${key}`,
        });
      }
    }
  }
  if (unknown.length > 0) attrs.unknown = unknown;
  // RFC 6793 §4.1 / §4.2.3: the real AS path, whatever kind of speaker sent it.
  const attributes = ctx.fourOctetAs
    ? forNewSpeaker(attrs as PathAttributes)
    : mergeFromOldSpeaker(attrs as PathAttributes);
  const decoded: UpdateMessage = {
    type: "update",
    withdrawn,
    attributes,
    nlri,
    ...(outcomes.length > 0 ? { outcomes } : {}),
  };
  const checked = checkNextHops(decoded, ctx.ownAddresses ?? []);
  // Sections with MP_REACH/MP_UNREACH carry routes and never repeat: not worth remembering.
  if (memo && memoKey !== undefined && !checked.attributes.mpReach && !checked.attributes.mpUnreach) {
    if (memo.size >= memoLimit) memo.clear();
    const entry = {
      attributes: checked.attributes,
      ...(checked.outcomes ? { outcomes: checked.outcomes } : {}),
    };
    memo.set(memoKey, entry);
    lastSections.set(memo, { bytes: ownBytes(b.subarray(aStart, end)), hasNlri, entry });
  }
  return checked;
}

/** Per session memo: the attribute section last decoded or found (a copy of its bytes) and its result. */
const lastSections = new WeakMap<
  DecodedAttributes,
  {
    readonly bytes: Uint8Array;
    readonly hasNlri: boolean;
    readonly entry: DecodedAttributes extends Map<string, infer V> ? V : never;
  }
>();

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/** Distinct attribute sections one session remembers (a peer sends few; a flood of new ones just restarts it). */
const memoLimit = 1024;

/** The section's bytes as a text, one character per octet: a map key. */
function attributeSectionKey(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
}

function decodeNlri(b: Uint8Array): string[] {
  try {
    return decodePrefixes(b, 4);
  } catch (err) {
    throw new BgpCodecError(
      BgpError.Update,
      UpdateSubcode.InvalidNetworkField,
      `NLRI is malformed: ${(err as Error).message}`,
    );
  }
}
