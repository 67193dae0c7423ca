import { readFileSync } from "node:fs";

/**
 * An nfnetlink batch as text, one line per message and per attribute (nested ones indented), for
 * comparing what Strata encodes with what nft sent. Left out as no part of the request's meaning:
 * sequence numbers, NLM_F_ACK (Strata asks for every answer, nft for none), the padding after an
 * attribute (nft leaves stale bytes there), and the set ids of element messages that name a set
 * (the kernel finds a named set by its name; nft adds the id of its own cache).
 */
export function dumpBatch(buf: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    const flags = buf.readUInt16LE(off + 6) & ~0x4;
    out.push(
      `msg 0x${type.toString(16)} flags 0x${flags.toString(16)} nfgen ${buf.subarray(off + 16, off + 20).toString("hex")}`,
    );
    const msg = type & 0xff;
    const isElem = type >> 8 === 10 && (msg === 12 || msg === 14);
    const body = attrLines(buf, off + 20, off + len, 1);
    const named = !body.some((l) => l.includes(Buffer.from("__set%d\0").toString("hex")));
    out.push(...(isElem && named ? body.filter((l) => !/^ {2}4 /.test(l)) : body));
    off += (len + 3) & ~3;
  }
  return out;
}

function attrLines(buf: Buffer, start: number, end: number, depth: number): string[] {
  const out: string[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2);
    const nested = (type & 0x8000) !== 0;
    const pad = "  ".repeat(depth);
    if (nested) {
      out.push(`${pad}${type & 0x3fff} {`);
      out.push(...attrLines(buf, off + 4, off + len, depth + 1));
    } else out.push(`${pad}${type & 0x3fff} ${buf.subarray(off + 4, off + len).toString("hex")}`);
    off += (len + 3) & ~3;
  }
  return out;
}

/** A batch nft 1.0.6 sent (test/fixtures/nftables/README.md says how each was captured). */
export const nftCapture = (name: string): Buffer =>
  readFileSync(new URL(`../../../test/fixtures/nftables/${name}.bin`, import.meta.url));
