import assert from "node:assert/strict";
import { test } from "node:test";
import { bgpKernelRoute } from "./kernel-route.js";

const underlay = [{ dev: "eth0", cidr: "192.168.10.1/24" }];

test("a BGP route is the prefix via its next hop, out of the device whose network holds it", () => {
  const two = [...underlay, { dev: "eth1", cidr: "192.168.20.1/24" }];
  assert.deepEqual(bgpKernelRoute("10.244.2.0/24", "192.168.20.7", two), {
    route: { dst: "10.244.2.0/24", via: "192.168.20.7", dev: "eth1" },
  });
  assert.deepEqual(
    bgpKernelRoute("2001:db8:2::/64", "2001:db8::7", [{ dev: "eth0", cidr: "2001:db8::1/64" }]),
    {
      route: { dst: "2001:db8:2::/64", via: "2001:db8::7", dev: "eth0" },
    },
  );
});

test("a next hop on no connected network gets no route, and the reason names the networks", () => {
  const r = bgpKernelRoute("10.244.2.0/24", "192.168.20.7", underlay);
  assert.ok("reason" in r);
  assert.match(
    r.reason,
    /next hop 192\.168\.20\.7 is on no connected network \(192\.168\.10\.1\/24 on eth0\)/,
  );
});

test("a next hop that is this host's own address gets no route", () => {
  const r = bgpKernelRoute("10.244.2.0/24", "192.168.10.1", underlay);
  assert.ok("reason" in r);
  assert.match(r.reason, /own address/);
});

test("a next hop that is no address gets no route", () => {
  assert.ok("reason" in bgpKernelRoute("10.244.2.0/24", "not-an-ip", underlay));
});

test("RFC 8950: an IPv4 prefix via an IPv6 next hop; a link-local one only where its device is known", () => {
  const links = [
    { dev: "eth0", cidr: "fe80::1/64" },
    { dev: "eth1", cidr: "fe80::2/64" },
    { dev: "eth1", cidr: "2001:db8::1/64" },
  ];
  assert.deepEqual(bgpKernelRoute("10.9.0.0/24", "2001:db8::7", links), {
    route: { dst: "10.9.0.0/24", via: "2001:db8::7", dev: "eth1" },
  });
  const ambiguous = bgpKernelRoute("10.9.0.0/24", "fe80::7", links);
  assert.match("reason" in ambiguous ? ambiguous.reason : "", /could be on any of eth0, eth1/);
  assert.deepEqual(bgpKernelRoute("10.9.0.0/24", "fe80::7", links.slice(1)), {
    route: { dst: "10.9.0.0/24", via: "fe80::7", dev: "eth1" },
  });
});

test("a link-local next hop goes out of the session's device when the speaker names it", () => {
  const links = [
    { dev: "eth0", cidr: "fe80::1/64" },
    { dev: "eth1", cidr: "fe80::2/64" },
  ];
  assert.deepEqual(bgpKernelRoute("fd00:9::/64", "fe80::7", links, "eth0"), {
    route: { dst: "fd00:9::/64", via: "fe80::7", dev: "eth0" },
  });
  const gone = bgpKernelRoute("fd00:9::/64", "fe80::7", links, "eth5");
  assert.match("reason" in gone ? gone.reason : "", /on no connected network/);
});
