import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../cni/errors.js";
import { formatIp } from "./address.js";
import { parseIpamConfig } from "./config.js";

describe("ipam configuration (host-local keys)", () => {
  test("defaults: gateway .1, range .1-.254 minus the gateway, data dir /var/lib/cni/networks", () => {
    const c = parseIpamConfig({ type: "strata-ipam", ranges: [[{ subnet: "10.22.0.7/24" }]] });
    const r = c.rangeSets[0]?.[0];
    assert.equal(r?.subnet, "10.22.0.0/24");
    assert.equal(formatIp(r?.gateway ?? { family: 4, value: 0n }), "10.22.0.1");
    assert.equal(formatIp(r?.rangeStart ?? { family: 4, value: 0n }), "10.22.0.1");
    assert.equal(formatIp(r?.rangeEnd ?? { family: 4, value: 0n }), "10.22.0.254");
    assert.equal(c.dataDir, "/var/lib/cni/networks");
  });

  test("legacy top-level subnet form and IPv6 range sets", () => {
    const c = parseIpamConfig({
      type: "host-local",
      subnet: "10.5.0.0/16",
      rangeStart: "10.5.1.0",
      rangeEnd: "10.5.1.255",
    });
    assert.equal(formatIp(c.rangeSets[0]?.[0]?.rangeStart ?? { family: 4, value: 0n }), "10.5.1.0");
    const v6 = parseIpamConfig({ type: "strata-ipam", ranges: [[{ subnet: "fd00:10::/64" }]] });
    assert.equal(v6.rangeSets[0]?.[0]?.family, 6);
    assert.equal(formatIp(v6.rangeSets[0]?.[0]?.gateway ?? { family: 6, value: 0n }), "fd00:10::1");
  });

  const bad: [string, unknown, RegExp][] = [
    ["not an object", "host-local", /ipam/],
    ["no ranges at all", { type: "strata-ipam" }, /no address ranges/],
    ["ranges not a list", { type: "strata-ipam", ranges: "10.0.0.0/8" }, /ranges/],
    ["empty range set", { type: "strata-ipam", ranges: [[]] }, /at least one range/],
    ["range without subnet", { type: "strata-ipam", ranges: [[{ gateway: "10.0.0.1" }]] }, /subnet/],
    ["subnet not a CIDR", { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0" }]] }, /not a CIDR/],
    ["subnet garbage", { type: "strata-ipam", ranges: [[{ subnet: "ten/8" }]] }, /not a CIDR/],
    ["subnet /31 too small", { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/31" }]] }, /too small/],
    ["subnet /32 too small", { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.1/32" }]] }, /too small/],
    [
      "gateway outside subnet",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", gateway: "10.0.1.1" }]] },
      /outside/,
    ],
    [
      "gateway not an address",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", gateway: "gw" }]] },
      /not an IP/,
    ],
    [
      "rangeStart outside subnet",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "10.0.5.1" }]] },
      /rangeStart/,
    ],
    [
      "rangeEnd outside subnet",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", rangeEnd: "10.1.0.1" }]] },
      /rangeEnd/,
    ],
    [
      "rangeStart after rangeEnd",
      {
        type: "strata-ipam",
        ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "10.0.0.200", rangeEnd: "10.0.0.100" }]],
      },
      /after rangeEnd/,
    ],
    [
      "range includes broadcast",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", rangeEnd: "10.0.0.255" }]] },
      /broadcast/,
    ],
    [
      "rangeStart of wrong family",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "fd00::5" }]] },
      /rangeStart/,
    ],
    [
      "overlapping ranges within a set",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }, { subnet: "10.0.0.128/25" }]] },
      /overlaps/,
    ],
    [
      "overlapping range sets",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/16" }], [{ subnet: "10.0.3.0/24" }]] },
      /overlaps/,
    ],
    [
      "mixed families in one set",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }, { subnet: "fd00::/64" }]] },
      /mixes IPv4 and IPv6/,
    ],
    [
      "ranges and legacy subnet together",
      { type: "strata-ipam", subnet: "10.1.0.0/24", ranges: [[{ subnet: "10.0.0.0/24" }]] },
      /both/,
    ],
    [
      "route dst not a CIDR",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]], routes: [{ dst: "default" }] },
      /routes\[0\]\.dst/,
    ],
    [
      "route gw not an address",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]], routes: [{ dst: "0.0.0.0/0", gw: "x" }] },
      /routes\[0\]\.gw/,
    ],
    [
      "relative dataDir",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]], dataDir: "var/lib" },
      /absolute/,
    ],
    [
      "dns nameservers not a list",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]], dns: { nameservers: "1.1.1.1" } },
      /dns/,
    ],
    ["legacy subnet not a CIDR", { type: "strata-ipam", subnet: "10.1.0.0/33" }, /not a CIDR/],
    [
      "legacy rangeStart outside the subnet",
      { type: "strata-ipam", subnet: "10.1.0.0/24", rangeStart: "10.2.0.5" },
      /rangeStart/,
    ],
    ["IPv6 /128 too small", { type: "strata-ipam", ranges: [[{ subnet: "fd00::1/128" }]] }, /too small/],
    [
      "IPv6 rangeEnd outside the subnet",
      { type: "strata-ipam", ranges: [[{ subnet: "fd00::/120", rangeEnd: "fd00::1:1" }]] },
      /rangeEnd/,
    ],
    [
      "same subnet twice in one set",
      { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }, { subnet: "10.0.0.0/24" }]] },
      /overlaps/,
    ],
    ["empty dataDir", { type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/24" }]], dataDir: "" }, /dataDir/],
    ["range is a string", { type: "strata-ipam", ranges: [["10.0.0.0/24"]] }, /ranges/],
  ];
  for (const [name, raw, msg] of bad) {
    test(`rejects ${name} with code 7 and a fix`, () => {
      assert.throws(
        () => parseIpamConfig(raw),
        (err) =>
          err instanceof CniError && err.cniCode === 7 && msg.test(err.message) && err.details.length > 0,
      );
    });
  }
});
