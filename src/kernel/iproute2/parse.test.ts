import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLinks, parseRoutes } from "./parse.js";

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

test("parseRoutes reads an IPv4 route via an IPv6 gateway (RTA_VIA, as iproute2 6.1 prints it)", () => {
  const [r] = parseRoutes(
    '[{"dst":"10.9.0.0/24","via":{"family":"inet6","host":"fe80::1"},"dev":"va","flags":[]}]',
    4,
  );
  assert.equal(r?.via, "fe80::1");
  assert.equal(r?.dev, "va");
  assert.equal(r?.family, 4);
});
