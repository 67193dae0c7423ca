import assert from "node:assert/strict";
import { test } from "node:test";
import { answerLength, encodeSet, parseErrno, parseGet, UapiError } from "./uapi-codec.js";
import { keyToHex } from "./wireguard-key.js";

const k1 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const k2 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const k3 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";

test("a set request carries the private key and port in hex, then each peer: removed, or its whole configuration", () => {
  const text = encodeSet({
    privateKey: k1,
    listenPort: 51820,
    peers: [
      { publicKey: k2, endpoint: "192.168.10.12:51820", allowedIps: ["10.244.2.0/24"], keepalive: 25 },
      { publicKey: k3, remove: true },
    ],
  });
  assert.equal(
    text,
    [
      "set=1",
      `private_key=${keyToHex(k1)}`,
      "listen_port=51820",
      `public_key=${keyToHex(k2)}`,
      "endpoint=192.168.10.12:51820",
      "persistent_keepalive_interval=25",
      "replace_allowed_ips=true",
      "allowed_ip=10.244.2.0/24",
      `public_key=${keyToHex(k3)}`,
      "remove=true",
      "",
      "",
    ].join("\n"),
  );
  assert.equal(keyToHex(k1), "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669");
});

test("a value that would break the line protocol is refused, never sent", () => {
  const peer = {
    publicKey: k2,
    endpoint: "192.168.10.12:51820",
    allowedIps: ["10.244.2.0/24"],
    keepalive: 25,
  };
  for (const bad of [
    { ...peer, endpoint: "192.168.10.12:51820\nremove=true" },
    { ...peer, allowedIps: ["10.244.2.0/24\nallowed_ip=0.0.0.0/0"] },
    { ...peer, keepalive: -1 },
  ])
    assert.throws(() => encodeSet({ peers: [bad] }), UapiError, JSON.stringify(bad));
  assert.throws(() => encodeSet({ listenPort: 70000, peers: [] }), UapiError);
});

test("a get answer gives the device's key, port and every peer with its counters (keys back in base64)", () => {
  const answer = [
    `private_key=${keyToHex(k1)}`,
    "listen_port=51820",
    `public_key=${keyToHex(k2)}`,
    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000",
    "protocol_version=1",
    "endpoint=192.168.10.12:51820",
    "last_handshake_time_sec=1700000000",
    "last_handshake_time_nsec=5",
    "tx_bytes=1000",
    "rx_bytes=2000",
    "persistent_keepalive_interval=25",
    "allowed_ip=10.244.2.0/24",
    "allowed_ip=10.244.9.0/24",
    `public_key=${keyToHex(k3)}`,
    "persistent_keepalive_interval=0",
    "errno=0",
    "",
    "",
  ].join("\n");
  assert.deepEqual(parseGet(answer), {
    privateKey: k1,
    listenPort: 51820,
    peers: [
      {
        publicKey: k2,
        endpoint: "192.168.10.12:51820",
        allowedIps: ["10.244.2.0/24", "10.244.9.0/24"],
        keepalive: 25,
        lastHandshake: 1700000000,
        rxBytes: 2000,
        txBytes: 1000,
      },
      { publicKey: k3, allowedIps: [], keepalive: 0, lastHandshake: 0, rxBytes: 0, txBytes: 0 },
    ],
  });
  // A device with nothing set yet: no key, a random port, no peers.
  assert.deepEqual(parseGet("listen_port=53375\nerrno=0\n\n"), { listenPort: 53375, peers: [] });
});

test("an answer with errno ≠ 0, no errno, or a malformed line is a UapiError", () => {
  assert.equal(parseErrno("errno=-22\n\n"), -22);
  assert.throws(
    () => parseGet("errno=-22\n\n"),
    (e: unknown) => e instanceof UapiError && e.errno === -22,
  );
  assert.throws(() => parseGet("listen_port=1\n\n"), UapiError);
  assert.throws(() => parseGet("public_key=zz\nerrno=0\n\n"), UapiError);
  assert.throws(() => parseGet("listen_port=abc\nerrno=0\n\n"), UapiError);
});

test("an answer split at any offset is complete only once its errno line and the empty line arrived", () => {
  const whole = `listen_port=1\npublic_key=${keyToHex(k2)}\nerrno=0\n\n`;
  for (let i = 0; i < whole.length; i++) assert.equal(answerLength(whole.slice(0, i)), undefined, `at ${i}`);
  assert.equal(answerLength(whole), whole.length);
  assert.equal(answerLength(`${whole}trailing`), whole.length);
});
