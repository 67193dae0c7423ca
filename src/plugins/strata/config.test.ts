import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../cni/errors.js";
import { parseStrataConfig } from "./config.js";

const ipam = { type: "strata-ipam", ranges: [[{ subnet: "10.1.0.0/24" }]] };

describe("strata plugin configuration", () => {
  test("defaults: bridge mode on cni0 with gateway", () => {
    const c = parseStrataConfig({ ipam });
    assert.equal(c.mode, "bridge");
    assert.equal(c.bridge, "cni0");
    assert.equal(c.isGateway, true);
    assert.equal(c.mtu, undefined);
    assert.equal(c.antiSpoofing, true, "anti-spoofing is on unless switched off");
    assert.equal(parseStrataConfig({ ipam, antiSpoofing: false }).antiSpoofing, false);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["unknown mode", { mode: "tunnel", ipam }, /mode/],
    ["bridge name too long", { bridge: "a-bridge-name-too-long", ipam }, /bridge/],
    ["bridge name with slash", { bridge: "br/0", ipam }, /bridge/],
    ["mtu too small", { mtu: 100, ipam }, /mtu/],
    ["mtu too large", { mtu: 70000, ipam }, /mtu/],
    ["mtu not an integer", { mtu: 1400.5, ipam }, /mtu/],
    ["mtu a string", { mtu: "1400", ipam }, /mtu/],
    ["ipam missing", {}, /ipam/],
    ["ipam type missing", { ipam: { ranges: [] } }, /ipam/],
    ["ipam not an object", { ipam: "host-local" }, /ipam/],
    ["isGateway not boolean", { isGateway: "yes", ipam }, /isGateway/],
    ["antiSpoofing not boolean", { antiSpoofing: "off", ipam }, /antiSpoofing/],
    ["vethPrefix too long", { vethPrefix: "verylongprefix", ipam }, /vethPrefix/],
  ];
  for (const [name, raw, field] of bad) {
    test(`rejects ${name} with code 7 naming the field`, () => {
      assert.throws(
        () => parseStrataConfig(raw),
        (err) =>
          err instanceof CniError && err.cniCode === 7 && field.test(err.message) && err.details.length > 0,
      );
    });
  }
});
