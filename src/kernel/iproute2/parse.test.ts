import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLinks } from "./parse.js";

test("parseLinks reads the identity of tun/tap (both IFLA_INFO_KIND tun) and macvlan devices", () => {
  // As `ip -json -details link show` prints them (iproute2 6.1, Debian 12).
  const json = JSON.stringify([
    {
      ifindex: 2,
      ifname: "tp0",
      mtu: 1500,
      flags: [],
      linkinfo: { info_kind: "tun", info_data: { type: "tap" } },
    },
    {
      ifindex: 3,
      ifname: "tn0",
      mtu: 1500,
      flags: [],
      linkinfo: { info_kind: "tun", info_data: { type: "tun" } },
    },
    {
      ifindex: 5,
      ifname: "mv0",
      link: "br0",
      mtu: 1500,
      flags: ["UP"],
      linkinfo: { info_kind: "macvlan", info_data: { mode: "private" } },
    },
  ]);
  const [tap, tun, mv] = parseLinks(json);
  assert.deepEqual(tap?.tun, { type: "tap" });
  assert.deepEqual(tun?.tun, { type: "tun" });
  assert.deepEqual(mv?.macvlan, { mode: "private", parent: "br0" });
  assert.equal(mv?.tun, undefined);
});
