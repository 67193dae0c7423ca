import assert from "node:assert/strict";
import { test } from "node:test";
import { sessionLink } from "./session-link.js";

const host = {
  lo: [{ address: "127.0.0.1", cidr: "127.0.0.1/8", family: "IPv4", internal: true }],
  eth0: [
    { address: "192.168.1.2", cidr: "192.168.1.2/24", family: "IPv4", internal: false },
    { address: "fd00:1::2", cidr: "fd00:1::2/64", family: "IPv6", internal: false },
    { address: "fe80::2", cidr: "fe80::2/64", family: "IPv6", internal: false },
  ],
  eth1: [
    { address: "10.0.0.2", cidr: "10.0.0.2/31", family: "IPv4", internal: false },
    { address: "fe80::1:2", cidr: "fe80::1:2/64", family: "IPv6", internal: false },
  ],
};

test("a peer on the session's subnet shares the link: our link-local address there (RFC 2545 §3)", () => {
  const eth0 = { dev: "eth0", linkLocal: "fe80::2", global6: "fd00:1::2" };
  assert.deepEqual(sessionLink("fd00:1::2", "fd00:1::1", host), eth0);
  assert.deepEqual(sessionLink("192.168.1.2", "192.168.1.9", host), eth0);
  assert.deepEqual(sessionLink("::ffff:10.0.0.2", "10.0.0.3", host), { dev: "eth1", linkLocal: "fe80::1:2" });
});

test("a peer beyond a router: the device, no link-local address; unknown local address: undefined", () => {
  assert.deepEqual(sessionLink("192.168.1.2", "172.16.0.1", host), { dev: "eth0", global6: "fd00:1::2" });
  assert.equal(sessionLink("192.0.2.1", "192.0.2.2", host), undefined);
  assert.equal(sessionLink(undefined, "192.0.2.2", host), undefined);
});

test("a link-local peer names its device", () => {
  assert.deepEqual(sessionLink("fe80::1:2", "fe80::1:1%eth1", host), { dev: "eth1", linkLocal: "fe80::1:2" });
  assert.equal(sessionLink("fe80::1:2", "fe80::1:1%eth9", host), undefined);
});

test("each session's interface gives its own global IPv6 address (a router's next-hop-self per segment)", () => {
  const router = {
    "sw-a": [
      { address: "192.168.10.1", cidr: "192.168.10.1/24", family: "IPv4", internal: false },
      { address: "fe80::a", cidr: "fe80::a/64", family: "IPv6", internal: false },
      { address: "fd00:192:168:10::1", cidr: "fd00:192:168:10::1/64", family: "IPv6", internal: false },
    ],
    "sw-b": [
      { address: "192.168.20.1", cidr: "192.168.20.1/24", family: "IPv4", internal: false },
      { address: "fd00:192:168:20::1", cidr: "fd00:192:168:20::1/64", family: "IPv6", internal: false },
    ],
  };
  assert.equal(sessionLink("192.168.10.1", "192.168.10.11", router)?.global6, "fd00:192:168:10::1");
  assert.equal(sessionLink("192.168.20.1", "192.168.20.12", router)?.global6, "fd00:192:168:20::1");
  assert.equal(sessionLink("10.0.0.2", "10.0.0.3", host)?.global6, undefined, "eth1 has link-local only");
});
