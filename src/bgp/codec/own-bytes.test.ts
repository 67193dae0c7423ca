import assert from "node:assert/strict";
import { test } from "node:test";
import { BgpFrameParser } from "./framing.js";
import { ownBytes } from "./own-bytes.js";

test("own bytes hold only themselves, also when taken from a Buffer (whose slice is a view)", () => {
  const chunk = Buffer.alloc(65536, 7).subarray(100, 200);
  assert.equal(chunk.slice(0, 4).buffer.byteLength >= 65536, true, "Buffer#slice keeps the read buffer");
  const own = ownBytes(chunk.subarray(0, 4));
  assert.equal(own.buffer.byteLength, 4);
  assert.deepEqual([...own], [7, 7, 7, 7]);
});

test("the framer keeps a message's first bytes from a Buffer chunk as a copy, and completes it with the next chunk", () => {
  const keepalive = Buffer.from([...new Array(16).fill(0xff), 0, 19, 4]);
  const parser = new BgpFrameParser();
  // One whole message and 5 bytes of the next, in a view of a 64 KiB read buffer, as a socket gives.
  const read = Buffer.alloc(65536);
  keepalive.copy(read, 0);
  keepalive.copy(read, 19);
  const first = parser.push(read.subarray(0, 24));
  assert.equal(first.length, 1);
  read.fill(0); // the socket reuses its read buffer: the kept bytes must not change with it
  const second = parser.push(keepalive.subarray(5));
  assert.equal(second.length, 1);
  assert.deepEqual([...(second[0] ?? [])], [...keepalive]);
});
