import assert from "node:assert/strict";
import { test } from "node:test";
import { samePeerConfig } from "./same-peer-config.js";

const peer = { address: "192.168.10.12", asn: 64512, passive: false };

test("equal settings and equal key bytes are the same peer configuration", () => {
  assert.ok(samePeerConfig(peer, { ...peer }));
  assert.ok(
    samePeerConfig(
      { ...peer, md5Key: new Uint8Array([1, 2, 3]) },
      { ...peer, md5Key: Buffer.from([1, 2, 3]) },
    ),
  );
});

test("a changed key, a key added or removed, or another setting is a different configuration", () => {
  const keyed = { ...peer, md5Key: new Uint8Array([1, 2, 3]) };
  assert.equal(samePeerConfig(keyed, { ...peer, md5Key: new Uint8Array([1, 2, 4]) }), false);
  assert.equal(samePeerConfig(keyed, peer), false);
  assert.equal(samePeerConfig(peer, keyed), false);
  assert.equal(samePeerConfig(peer, { ...peer, passive: true }), false);
  assert.equal(samePeerConfig(peer, { ...peer, rrClient: true }), false);
});
