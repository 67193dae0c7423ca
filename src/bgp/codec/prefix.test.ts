import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../../test/support/prng.js";
import { addressBytes, addressFromBytes } from "../../common/cidr.js";
import { decodePrefixes, encodePrefixes } from "./prefix.js";

/** The general path, as the codec had it: an address parser and a byte slice per prefix. */
const reference = (p: string): number[] => {
  const [addr = "", len = "0"] = p.split("/");
  const bits = Number(len);
  return [bits, ...addressBytes(addr, 4).slice(0, Math.ceil(bits / 8))];
};

test("IPv4 NLRI: every prefix length encodes as the address parser does and decodes back to the same text", () => {
  const rand = prng(15);
  for (let bits = 0; bits <= 32; bits++) {
    for (let i = 0; i < 20; i++) {
      const raw = Array.from({ length: 4 }, () => Math.floor(rand() * 256));
      const keep = raw.map((b, k) => {
        const left = bits - k * 8;
        return left >= 8 ? b : left <= 0 ? 0 : b & ((0xff << (8 - left)) & 0xff);
      });
      const p = `${addressFromBytes(keep)}/${bits}`;
      const wire = encodePrefixes([p], 4);
      assert.deepEqual([...wire], reference(p), p);
      assert.deepEqual(decodePrefixes(wire, 4), [p]);
    }
  }
});

test("IPv4 NLRI: bits set past the prefix length are cleared in the text", () => {
  assert.deepEqual(decodePrefixes(Uint8Array.of(20, 10, 1, 0xff), 4), ["10.1.240.0/20"]);
});

test("an odd prefix text takes the general path: refused, or encoded, exactly as before", () => {
  const outcome = (f: () => unknown) => {
    try {
      return [...(f() as Iterable<number>)];
    } catch (err) {
      return (err as Error).constructor.name;
    }
  };
  for (const odd of [
    "10.0.0/8",
    "256.0.0.0/8",
    "10.0.0.0",
    "10.0.0.0/x",
    "010.0.0.0/8",
    "10.0.0.0/040",
    "1.2.3.4/33",
  ]) {
    assert.deepEqual(
      outcome(() => encodePrefixes([odd], 4)),
      outcome(() => Uint8Array.from(reference(odd))),
      odd,
    );
  }
  assert.throws(() => encodePrefixes(["256.0.0.0/8"], 4));
});
