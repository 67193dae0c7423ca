import { BgpError, CeaseSubcode } from "../codec/errors.js";

/**
 * Per-peer max-prefix limit: past it the session is closed with NOTIFICATION Cease / Maximum
 * Number of Prefixes Reached (RFC 4486 §4: code 6, subcode 1, data = AFI, SAFI, limit).
 */
export function maxPrefixNotification(
  count: number,
  limit: number | undefined,
  afi = 1,
  safi = 1,
):
  | {
      code: typeof BgpError.Cease;
      subcode: typeof CeaseSubcode.MaximumPrefixesReached;
      data: Uint8Array;
    }
  | undefined {
  if (limit === undefined || count <= limit) return undefined;
  const data = Uint8Array.of(
    (afi >> 8) & 0xff,
    afi & 0xff,
    safi,
    (limit >>> 24) & 0xff,
    (limit >>> 16) & 0xff,
    (limit >>> 8) & 0xff,
    limit & 0xff,
  );
  return { code: BgpError.Cease, subcode: CeaseSubcode.MaximumPrefixesReached, data };
}
