import assert from "node:assert/strict";
import { test } from "node:test";
import { PeerSpecError, parsePeerSpec } from "./peer-spec.js";

test("--peer specs parse, and bad ones say what to write", () => {
  assert.deepEqual(parsePeerSpec("10.0.0.1,as=65001"), { address: "10.0.0.1", asn: 65001 });
  assert.deepEqual(parsePeerSpec("10.0.0.2,as=4200000000,port=1179,rr-client,passive,max-prefixes=10"), {
    address: "10.0.0.2",
    asn: 4200000000,
    port: 1179,
    rrClient: true,
    passive: true,
    maxPrefixes: 10,
  });
  for (const bad of [
    "10.0.0.1",
    "10.0.0.256,as=1",
    "host,as=1",
    "10.0.0.1,as=0",
    "10.0.0.1,as=x",
    "10.0.0.1,as=1,port=70000",
    "10.0.0.1,as=1,color=red",
    "10.0.0.1,as=1,max-prefixes=",
  ]) {
    assert.throws(() => parsePeerSpec(bad), PeerSpecError, bad);
  }
  assert.throws(() => parsePeerSpec("10.0.0.1,as=1,color=red"), /unknown option "color".*ADDRESS,as=ASN/);
});
