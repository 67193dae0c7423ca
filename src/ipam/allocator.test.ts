import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseIp } from "./address.js";
import { candidates } from "./allocator.js";
import { parseIpamConfig } from "./config.js";

const set = (raw: unknown) => parseIpamConfig(raw);
const small = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/29" }]] });

describe("allocator", () => {
  test("walks the range skipping the gateway, network and broadcast", () => {
    const ips = [...candidates(small.rangeSets[0] ?? [])].map((c) => c.ip);
    assert.deepEqual(ips, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  });

  test("starts after the last reserved address and wraps around (no immediate reuse)", () => {
    const ips = [...candidates(small.rangeSets[0] ?? [], parseIp("10.0.0.4"))].map((c) => c.ip);
    assert.deepEqual(ips, ["10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  });

  test("continues into the next range of the set", () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/30" }, { subnet: "10.0.1.0/30" }]] });
    assert.deepEqual(
      [...candidates(c.rangeSets[0] ?? [])].map((x) => x.ip),
      ["10.0.0.2", "10.0.1.2"],
    );
  });

  test("wraps from the end of the last range of a set back to its first range", () => {
    const c = set({
      type: "strata-ipam",
      ranges: [[{ subnet: "10.0.0.0/29" }, { subnet: "10.0.1.0/30" }]],
    });
    assert.deepEqual(
      [...candidates(c.rangeSets[0] ?? [], parseIp("10.0.1.2"))].map((x) => x.ip),
      ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.1.2"],
    );
  });

  test("a last reserved address outside the set (config changed) starts from the beginning", () => {
    const ips = [...candidates(small.rangeSets[0] ?? [], parseIp("192.168.9.9"))].map((c) => c.ip);
    assert.deepEqual(ips, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  });

  test("offers every address of a range exactly once, from any starting point", () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.1.0.0/26", rangeStart: "10.1.0.10" }]] });
    const range = c.rangeSets[0] ?? [];
    const all = [...candidates(range)].map((x) => x.ip);
    assert.equal(all.length, 62 - 9);
    for (const last of ["10.1.0.10", "10.1.0.33", "10.1.0.62"]) {
      const walk = [...candidates(range, parseIp(last))].map((x) => x.ip);
      assert.deepEqual([...walk].sort(), [...all].sort());
      assert.equal(walk.at(-1), last, "the last reserved address is offered last");
    }
  });

  test("IPv6: the subnet's last address is usable, the gateway is not", () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "fd00::/126" }]] });
    assert.deepEqual(
      [...candidates(c.rangeSets[0] ?? [])].map((x) => x.ip),
      ["fd00::2", "fd00::3"],
    );
  });

  test("an explicit gateway in the middle of the range is skipped; .1 is then handed out", () => {
    const c = set({ type: "strata-ipam", ranges: [[{ subnet: "10.0.0.0/29", gateway: "10.0.0.3" }]] });
    assert.deepEqual(
      [...candidates(c.rangeSets[0] ?? [])].map((x) => x.ip),
      ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"],
    );
  });
});
