import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { attachmentResult, familyGateway, podInterfaceOps, podRoutes } from "./pod-addressing.js";

const dual = [
  { address: "10.22.0.5/24", gateway: "10.22.0.1" },
  { address: "fd00:22::5/64", gateway: "fd00:22::1" },
];

describe("pod addressing from an IPAM result", () => {
  test("isDefaultGateway: one default route per family that has a gateway", () => {
    assert.deepEqual(podRoutes(dual, [], { defaultGateway: true }), [
      { dst: "0.0.0.0/0", gw: "10.22.0.1" },
      { dst: "::/0", gw: "fd00:22::1" },
    ]);
    assert.deepEqual(podRoutes([{ address: "10.22.0.5/24" }], [], { defaultGateway: true }), []);
    assert.deepEqual(podRoutes(dual, [], { defaultGateway: false }), []);
  });

  test("an IPAM route without gw goes via its own family's gateway; a routed destination is not repeated", () => {
    const routes = podRoutes(
      dual,
      [{ dst: "fd00:99::/48" }, { dst: "10.99.0.0/16", mtu: 1400 }, { dst: "0.0.0.0/0", gw: "10.22.0.254" }],
      { defaultGateway: true },
    );
    assert.deepEqual(routes, [
      { dst: "0.0.0.0/0", gw: "10.22.0.1" },
      { dst: "::/0", gw: "fd00:22::1" },
      { dst: "fd00:99::/48", gw: "fd00:22::1" },
      { dst: "10.99.0.0/16", gw: "10.22.0.1", mtu: 1400 },
    ]);
    assert.equal(familyGateway(dual, true), "fd00:22::1");
    assert.equal(familyGateway([{ address: "10.22.0.5/24" }], false), undefined);
  });

  test("ops: addresses (IPv6 without DAD), the link up, on-link gateways, then the routes", () => {
    const ops = podInterfaceOps({
      ifName: "eth0",
      addresses: ["10.22.0.5/32", "fd00:22::5/128"],
      routes: [
        { dst: "0.0.0.0/0", gw: "169.254.1.1" },
        { dst: "10.99.0.0/16", gw: "169.254.1.1", mtu: 1400 },
      ],
      onLinkGateways: ["169.254.1.1"],
    });
    assert.deepEqual(ops, [
      { op: "addr.add", dev: "eth0", cidr: "10.22.0.5/32", noDad: false },
      { op: "addr.add", dev: "eth0", cidr: "fd00:22::5/128", noDad: true },
      { op: "link.set", name: "eth0", up: true },
      { op: "route.replace", route: { dst: "169.254.1.1/32", dev: "eth0", scope: "link" } },
      { op: "route.replace", route: { dst: "0.0.0.0/0", via: "169.254.1.1", dev: "eth0" } },
      { op: "route.replace", route: { dst: "10.99.0.0/16", via: "169.254.1.1", dev: "eth0", mtu: 1400 } },
    ]);
  });

  test("the result names the pod interface (listed last) on every IP and carries IPAM's DNS", () => {
    const r = attachmentResult(
      "1.1.0",
      [{ name: "veth1" }, { name: "eth0", sandbox: "/run/netns/p" }],
      dual,
      [{ dst: "0.0.0.0/0", gw: "10.22.0.1" }],
      { cniVersion: "1.1.0", dns: { nameservers: ["10.22.0.53"] } },
    );
    assert.deepEqual(
      r.ips?.map((ip) => ip.interface),
      [1, 1],
    );
    assert.deepEqual(r.dns, { nameservers: ["10.22.0.53"] });
    assert.equal(r.interfaces?.length, 2);
  });
});
