import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalSocketAddress, queryPort, socketAddressText } from "./tcp-sessions.js";

test("socket addresses are written as inet_ntop writes them", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["::", "::"],
    ["::1", "::1"],
    ["fd00:0:0:0:0:0:0:1", "fd00::1"],
    ["FD00:0:0:1:0:0:0:1", "fd00:0:0:1::1"],
    ["fd00:1:0:1:0:1:0:1", "fd00:1:0:1:0:1:0:1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:0:0:2:3:0:0:4", "1::2:3:0:0:4"],
    ["fe80::1:0", "fe80::1:0"],
    ["::ffff:7f00:1", "::ffff:127.0.0.1"],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["::10.1.2.3", "::10.1.2.3"],
    ["::ffff:0:1", "::ffff:0.0.0.1"],
    ["1::ffff:7f00:1", "1::ffff:7f00:1"],
  ];
  for (const [text, want] of cases) assert.equal(canonicalSocketAddress(text), want, text);
  assert.equal(socketAddressText(Uint8Array.from([192, 168, 0, 9])), "192.168.0.9");
  assert.equal(canonicalSocketAddress("not-an-address"), undefined);
  assert.equal(canonicalSocketAddress("10.1"), undefined);
  assert.throws(() => socketAddressText(new Uint8Array(5)), /5 octets/);
});

test("a query's port is an integer 0..65535 or absent", () => {
  assert.equal(queryPort({}), undefined);
  assert.equal(queryPort({ port: 179 }), 179);
  for (const port of [-1, 65536, 1.5, Number.NaN])
    assert.throws(() => queryPort({ port }), /not a TCP port/, String(port));
});
