import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSsTcp, SsParseError } from "./parse-ss.js";

test("`ss -Htn state established` lines: IPv4, IPv6, mapped, a device scope", () => {
  const text = [
    "0      0           10.0.0.1:179        10.0.0.2:40000",
    "0      0           10.0.0.2:40001      10.0.0.1:179  ",
    "0      0      [fd00:0::1]:179       [::1]:40003",
    "0      0      [::ffff:127.0.0.1]:179       [::ffff:127.0.0.1]:40004",
    "0      0      [fe80::1]%veth0:179       [fe80::2]:40005",
    '0      0      10.1.0.1%vrf1:179       10.1.0.2:40006 users:(("bird",pid=1,fd=3))',
    "",
  ].join("\n");
  assert.deepEqual(parseSsTcp(text), [
    { family: 4, local: { address: "10.0.0.1", port: 179 }, remote: { address: "10.0.0.2", port: 40000 } },
    { family: 4, local: { address: "10.0.0.2", port: 40001 }, remote: { address: "10.0.0.1", port: 179 } },
    { family: 6, local: { address: "fd00::1", port: 179 }, remote: { address: "::1", port: 40003 } },
    {
      family: 6,
      local: { address: "::ffff:127.0.0.1", port: 179 },
      remote: { address: "::ffff:127.0.0.1", port: 40004 },
    },
    { family: 6, local: { address: "fe80::1", port: 179 }, remote: { address: "fe80::2", port: 40005 } },
    { family: 4, local: { address: "10.1.0.1", port: 179 }, remote: { address: "10.1.0.2", port: 40006 } },
  ]);
  assert.deepEqual(parseSsTcp(""), []);
});

test("a line that is not a connection is an error quoting it", () => {
  assert.throws(() => parseSsTcp("0 0 10.0.0.1:179\n"), SsParseError);
  assert.throws(() => parseSsTcp("0 0 *:179 10.0.0.2:1\n"), /no address:port in "\*:179"/);
  assert.throws(() => parseSsTcp("0 0 10.0.0.1 10.0.0.2:1\n"), SsParseError);
});
