import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { netnsAtPath } from "../../kernel/api.js";
import { type AttachInput, planAddresses, planLink } from "./attach-plan.js";
import { hostVethName, routedGatewayV4 } from "./names.js";

const base: AttachInput = {
  mode: "bridge",
  bridge: "cni0",
  bridgeMac: "02:00:00:00:00:01",
  isGateway: true,
  isDefaultGateway: true,
  mtu: 1450,
  hostVeth: "veth0123456789a",
  hostMac: "02:00:00:00:00:03",
  podIfName: "eth0",
  podMac: "02:00:00:00:00:02",
  podNetns: netnsAtPath("/run/netns/pod"),
  ips: [{ address: "10.22.0.5/24", gateway: "10.22.0.1" }],
  routes: [],
};

describe("attach planner", () => {
  test("bridge mode: the bridge is shared wiring, the veth joins it; the gateway goes on the bridge", () => {
    const l = planLink(base);
    assert.ok(l.sharedLink.some((o) => o.op === "link.add" && o.spec.kind === "bridge" && o.ifAbsent));
    assert.ok(l.link.some((o) => o.op === "link.set" && o.master === "cni0" && o.up));
    const a = planAddresses(base);
    assert.deepEqual(
      a.sharedAddress.find((o) => o.op === "addr.add"),
      { op: "addr.add", dev: "cni0", cidr: "10.22.0.1/24", ifAbsent: true },
    );
    assert.ok(a.pod.some((o) => o.op === "addr.add" && o.cidr === "10.22.0.5/24"));
    assert.ok(
      a.pod.some(
        (o) => o.op === "route.replace" && o.route.dst === "0.0.0.0/0" && o.route.via === "10.22.0.1",
      ),
    );
    assert.deepEqual(a.resultRoutes, [{ dst: "0.0.0.0/0", gw: "10.22.0.1" }]);
  });

  test("the veth comes first, its pod end made directly in the pod namespace, at the configured MTU and MAC", () => {
    const createVeth = planLink(base).link[0];
    if (createVeth?.op !== "link.add" || createVeth.spec.kind !== "veth") throw new Error("not a veth");
    assert.equal(createVeth.spec.mtu, 1450);
    assert.equal(createVeth.spec.peer.mtu, 1450);
    assert.equal(createVeth.spec.peer.mac, "02:00:00:00:00:02");
    assert.deepEqual(createVeth.spec.peer.netns, netnsAtPath("/run/netns/pod"));
  });

  test("bridge mode without isGateway leaves the bridge unaddressed", () => {
    const a = planAddresses({ ...base, isGateway: false });
    assert.equal(a.sharedAddress.filter((o) => o.op === "addr.add").length, 0);
  });

  test("routed mode: no bridge, /32 on the pod, host route to the veth, proxy ARP, link-local gateway", () => {
    const r = { ...base, mode: "routed" as const };
    assert.deepEqual(planLink(r).sharedLink, []);
    const a = planAddresses(r);
    assert.ok(a.pod.some((o) => o.op === "addr.add" && o.cidr === "10.22.0.5/32"));
    assert.ok(
      a.host.some(
        (o) => o.op === "route.replace" && o.route.dst === "10.22.0.5/32" && o.route.dev === base.hostVeth,
      ),
    );
    assert.ok(
      a.host.some((o) => o.op === "sysctl.set" && o.key === `net/ipv4/conf/${base.hostVeth}/proxy_arp`),
    );
    assert.ok(
      a.pod.some(
        (o) => o.op === "route.replace" && o.route.via === routedGatewayV4 && o.route.dst === "0.0.0.0/0",
      ),
    );
    assert.deepEqual(a.resultIps, [{ address: "10.22.0.5/32", gateway: routedGatewayV4 }]);
  });

  test("dual stack bridge mode adds both default routes and skips DAD for the pod address", () => {
    const a = planAddresses({
      ...base,
      ips: [...base.ips, { address: "fd00:22::5/64", gateway: "fd00:22::1" }],
    });
    assert.deepEqual(
      a.resultRoutes.map((r) => r.dst),
      ["0.0.0.0/0", "::/0"],
    );
    assert.ok(a.pod.some((o) => o.op === "addr.add" && o.cidr === "fd00:22::5/64" && o.noDad === true));
  });

  test("IPAM routes are installed via the gateway of their family", () => {
    const a = planAddresses({ ...base, isDefaultGateway: false, routes: [{ dst: "192.168.0.0/16" }] });
    assert.deepEqual(a.resultRoutes, [{ dst: "192.168.0.0/16", gw: "10.22.0.1" }]);
  });
});

describe("host veth names", () => {
  test("are 15 characters, stable, and differ per attachment", () => {
    const a = hostVethName("veth", "c1", "eth0");
    assert.equal(a.length, 15);
    assert.equal(a, hostVethName("veth", "c1", "eth0"));
    assert.notEqual(a, hostVethName("veth", "c1", "net1"));
    assert.notEqual(a, hostVethName("veth", "c2", "eth0"));
  });
});
