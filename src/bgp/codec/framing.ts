import { BgpCodecError, BgpError, HeaderSubcode } from "./errors.js";
import { headerLength, maxMessageLength } from "./messages.js";
import { ownBytes } from "./own-bytes.js";

const empty = new Uint8Array();

/**
 * Splits a TCP byte stream into whole BGP messages, whatever the chunk boundaries: 16-octet
 * marker, 2-octet length (19..4096), then the rest. Messages are views of the chunk they came in
 * (no copy per message: the decoders copy whatever they keep); only a message split across chunks
 * is copied, into the next one's front.
 */
export class BgpFrameParser {
  #buffer: Uint8Array = empty;

  /** Add received bytes; returns every message now complete (header included). */
  push(chunk: Uint8Array): Uint8Array[] {
    let merged = chunk;
    if (this.#buffer.length > 0) {
      merged = new Uint8Array(this.#buffer.length + chunk.length);
      merged.set(this.#buffer);
      merged.set(chunk, this.#buffer.length);
    }
    const out: Uint8Array[] = [];
    let i = 0;
    while (merged.length - i >= headerLength) {
      const length = ((merged[i + 16] ?? 0) << 8) | (merged[i + 17] ?? 0);
      if (length < headerLength || length > maxMessageLength) {
        throw new BgpCodecError(
          BgpError.MessageHeader,
          HeaderSubcode.BadMessageLength,
          `bad message length ${length}`,
          merged.subarray(i + 16, i + 18),
        );
      }
      if (merged.length - i < length) break;
      out.push(merged.subarray(i, i + length));
      i += length;
    }
    // The rest is copied (not Buffer#slice, a view): holding a view would keep the whole chunk alive.
    this.#buffer = i === merged.length ? empty : ownBytes(merged.subarray(i));
    return out;
  }

  get pending(): number {
    return this.#buffer.length;
  }
}
