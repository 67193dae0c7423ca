import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { netnsAtPath } from "../../kernel/api.js";
import { type AttachInput, planAttach } from "./attach-plan.js";
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
  test("bridge mode puts the gateway on the bridge and a default route in the pod", () => {
    const p = planAttach(base);
    assert.deepEqual(
      p.shared.find((o) => o.op === "addr.add"),
      { op: "addr.add", dev: "cni0", cidr: "10.22.0.1/24", ifAbsent: true },
    );
    assert.ok(p.attach.some((o) => o.op === "link.set" && o.master === "cni0"));
    assert.ok(p.pod.some((o) => o.op === "addr.add" && o.cidr === "10.22.0.5/24"));
    assert.ok(
      p.pod.some(
        (o) => o.op === "route.replace" && o.route.dst === "0.0.0.0/0" && o.route.via === "10.22.0.1",
      ),
    );
    assert.deepEqual(p.resultRoutes, [{ dst: "0.0.0.0/0", gw: "10.22.0.1" }]);
  });

  test("the veth is created with its pod end directly in the pod namespace, at the configured MTU", () => {
    const p = planAttach(base);
    const createVeth = p.attach[0];
    if (createVeth?.op !== "link.add" || createVeth.spec.kind !== "veth") throw new Error("not a veth");
    assert.equal(createVeth.spec.mtu, 1450);
    assert.equal(createVeth.spec.peer.mtu, 1450);
    assert.equal(createVeth.spec.peer.mac, "02:00:00:00:00:02");
    assert.deepEqual(createVeth.spec.peer.netns, netnsAtPath("/run/netns/pod"));
  });

  test("bridge mode without isGateway leaves the bridge unaddressed", () => {
    const p = planAttach({ ...base, isGateway: false });
    assert.equal(p.shared.filter((o) => o.op === "addr.add").length, 0);
  });

  test("routed mode: /32 on the pod, host route to the veth, proxy ARP, link-local gateway", () => {
    const p = planAttach({ ...base, mode: "routed" });
    assert.ok(p.pod.some((o) => o.op === "addr.add" && o.cidr === "10.22.0.5/32"));
    assert.ok(
      p.attach.some(
        (o) => o.op === "route.replace" && o.route.dst === "10.22.0.5/32" && o.route.dev === base.hostVeth,
      ),
    );
    assert.ok(
      p.attach.some((o) => o.op === "sysctl.set" && o.key === `net/ipv4/conf/${base.hostVeth}/proxy_arp`),
    );
    assert.ok(
      p.pod.some(
        (o) => o.op === "route.replace" && o.route.via === routedGatewayV4 && o.route.dst === "0.0.0.0/0",
      ),
    );
    assert.equal(
      p.shared.some((o) => o.op === "link.add" && o.spec.kind === "bridge"),
      false,
      "routed mode makes no bridge",
    );
    assert.deepEqual(p.resultIps, [{ address: "10.22.0.5/32", gateway: routedGatewayV4 }]);
  });

  test("dual stack bridge mode adds both default routes and skips DAD for the pod address", () => {
    const p = planAttach({
      ...base,
      ips: [...base.ips, { address: "fd00:22::5/64", gateway: "fd00:22::1" }],
    });
    assert.deepEqual(
      p.resultRoutes.map((r) => r.dst),
      ["0.0.0.0/0", "::/0"],
    );
    assert.ok(p.pod.some((o) => o.op === "addr.add" && o.cidr === "fd00:22::5/64" && o.noDad === true));
  });

  test("IPAM routes are installed via the gateway of their family", () => {
    const p = planAttach({ ...base, isDefaultGateway: false, routes: [{ dst: "192.168.0.0/16" }] });
    assert.deepEqual(p.resultRoutes, [{ dst: "192.168.0.0/16", gw: "10.22.0.1" }]);
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
