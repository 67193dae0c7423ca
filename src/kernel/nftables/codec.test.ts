import assert from "node:assert/strict";
import { test } from "node:test";
import { nftCapture } from "../../../test/support/nf-batch-dump.js";
import { attrs } from "../rtnetlink/codec.js";
import { encodeBatch, messageOfSeq, nest, strz } from "./codec.js";
import { counterRef, lookup, metaLoad, verdict } from "./expressions.js";
import { addressKey, concatKey, concatType, ifnameKey, nftType } from "./keys.js";
import { addCounter, setElements } from "./objects.js";

/** Asserts that nft's own batch `name` (test/fixtures/nftables/) holds `ours` byte for byte. */
const captured = (name: string, ours: Buffer) =>
  assert.ok(nftCapture(name).includes(ours), `${ours.toString("hex")} in ${name}.bin`);

test("expressions encode as nft sends them: `iifname @ports jump guard`", () => {
  // NFTA_RULE_EXPRESSIONS of the prerouting rule, as nft 1.0.6 sent it (inet.bin).
  const ours = attrs([
    nest(4, [metaLoad("iifname", 1), lookup(1, "ports", 1), verdict({ kind: "jump", chain: "guard" })]),
  ]);
  captured("inet", ours);
});

test("`counter name X drop`'s objref has the name without its NUL, as libnftnl sends it", () => {
  const ours = attrs([counterRef("spoofed_ipv4")]);
  assert.ok(ours.includes(Buffer.from("spoofed_ipv4")));
  assert.ok(!ours.includes(Buffer.from("spoofed_ipv4\0")));
  captured("inet", ours);
});

test("a named counter is created from zero with NLM_F_CREATE, no NLM_F_EXCL (an existing one is kept)", () => {
  const m = addCounter("bridge", "strata-antispoof", "spoofed_arp");
  assert.equal(m.flags, 0x400);
  captured("bridge", attrs(m.attrs));
});

test("set keys: ifname padded to IFNAMSIZ, concatenations on 4-octet boundaries, types 6 bits apart", () => {
  assert.equal(ifnameKey("vethabc").toString("hex"), "76657468616263000000000000000000");
  assert.equal(concatKey(ifnameKey("vethabc"), addressKey("10.1.0.5", "ipv4")).length, 20);
  assert.equal(concatKey(Uint8Array.of(1), Uint8Array.of(2)).toString("hex"), "0100000002000000");
  assert.equal(concatType(nftType.ifname, nftType.ipv4Addr), 0xa47);
  assert.equal(concatType(nftType.ifname, nftType.ipv6Addr), 0xa48);
  // The v6 element of forgetScript's add, byte for byte (inet-forget.bin).
  const el = setElements("add", "inet", "strata-antispoof", "v6", [
    concatKey(ifnameKey("vethabc"), addressKey("fd00::5", "ipv6")),
  ]);
  captured("inet-forget", attrs(el.attrs.slice(2)));
  assert.throws(() => ifnameKey(""), /not an interface name/);
  assert.throws(() => ifnameKey("0123456789abcdef"), /not an interface name/);
});

test("a batch's sequence numbers name its messages; BEGIN and END name none", () => {
  const ms = [addCounter("inet", "t", "a"), addCounter("inet", "t", "b")];
  const b = encodeBatch(ms, 41);
  assert.equal(messageOfSeq(b, 41), undefined);
  assert.equal(messageOfSeq(b, 42)?.what, "add counter inet t a");
  assert.equal(messageOfSeq(b, 43)?.what, "add counter inet t b");
  assert.equal(messageOfSeq(b, 44), undefined);
  // NUL-terminated names, padded to 4 octets.
  assert.equal(attrs([strz(1, "abc")]).toString("hex"), "0800010061626300");
});
