import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../cni/errors.js";
import { type Link, netnsAtPath } from "../../kernel/api.js";
import { KernelError } from "../../kernel/errors.js";
import { renderOp } from "../../kernel/iproute2/render.js";
import { childLinkPodOps } from "../toolkit/child-link-plugin.js";
import { parseMacvlanConfig } from "./config.js";
import { nodeMacvlanOps } from "./node-reach.js";
import { explainMacvlanRefusal, macvlanLinkOp, macvlanMismatch } from "./plan.js";

const pod = netnsAtPath("/run/netns/pod1");
const at = { master: "eth1", ifName: "net1", podNetns: pod };
const master: Link = { index: 3, name: "eth1", mtu: 1500, up: true, operState: "UP" };

describe("strata-macvlan plan", () => {
  test("the macvlan is made on the master straight inside the pod, in the configured mode, MTU and MAC", () => {
    const op = macvlanLinkOp(
      parseMacvlanConfig({ master: "eth1", mode: "private", mtu: 1400, mac: "02:AA:00:00:00:01" }),
      at,
    );
    assert.deepEqual(renderOp(op), [
      {
        tool: "ip",
        args: [
          "link",
          "add",
          "name",
          "net1",
          "mtu",
          "1400",
          "address",
          "02:aa:00:00:00:01",
          "link",
          "eth1",
          "netns",
          "/run/netns/pod1",
          "type",
          "macvlan",
          "mode",
          "private",
        ],
      },
    ]);
  });

  test("the runtime's MAC (runtimeConfig.mac) wins over the configuration's", () => {
    const op = macvlanLinkOp(parseMacvlanConfig({ mac: "02:00:00:00:00:01" }), {
      ...at,
      mac: "02:00:00:00:00:02",
    });
    assert.equal(
      op.op === "link.add" && op.spec.kind === "macvlan" ? op.spec.mac : undefined,
      "02:00:00:00:00:02",
    );
  });

  test("pod side: arp_notify, addresses, up, then IPAM's routes via the range gateway; no default route of its own", () => {
    const ops = childLinkPodOps(
      "net1",
      [{ address: "10.70.0.5/24", gateway: "10.70.0.1" }],
      [{ dst: "10.80.0.0/16" }],
    );
    assert.deepEqual(ops, [
      { op: "sysctl.set", key: "net/ipv4/conf/net1/arp_notify", value: "1" },
      { op: "addr.add", dev: "net1", cidr: "10.70.0.5/24", noDad: false },
      { op: "link.set", name: "net1", up: true },
      { op: "route.replace", route: { dst: "10.80.0.0/16", via: "10.70.0.1", dev: "net1" } },
    ]);
    assert.deepEqual(childLinkPodOps("net1", [], undefined), [{ op: "link.set", name: "net1", up: true }]);
  });

  test("the kernel's bare EINVAL on a passthru master becomes code 7 naming the rule; other refusals are left to the generic mapping", () => {
    const einval = new KernelError("invalid", "link.add", "RTNETLINK answers: Invalid argument");
    const e = explainMacvlanRefusal(einval, parseMacvlanConfig({ mode: "passthru" }), master);
    assert.ok(e instanceof CniError);
    assert.equal(e.cniCode, 7);
    assert.match(e.message, /passthru: master eth1 already has a macvlan/);
    assert.match(
      explainMacvlanRefusal(einval, parseMacvlanConfig({}), master)?.message ?? "",
      /held by a passthru macvlan/,
    );
    assert.equal(
      explainMacvlanRefusal(new KernelError("permission", "x", "y"), parseMacvlanConfig({}), master),
      undefined,
    );
  });

  test("CHECK compares kind and mode", () => {
    const link = (kind: string, mode?: string): Link => ({
      ...master,
      kind,
      ...(mode ? { macvlan: { mode } } : {}),
    });
    const c = parseMacvlanConfig({ mode: "vepa" });
    assert.equal(macvlanMismatch(link("macvlan", "vepa"), c), undefined);
    assert.match(macvlanMismatch(link("macvlan", "bridge"), c) ?? "", /mode bridge, expected vepa/);
    assert.match(macvlanMismatch(link("veth"), c) ?? "", /veth link, not a macvlan/);
  });

  test("node-reach: a bridge-mode sibling with a host address and routes to the pods, idempotent ops", () => {
    const ops = nodeMacvlanOps({
      name: "mv-node",
      master: "eth1",
      address: "10.70.0.254/32",
      podCidrs: ["10.70.0.0/24"],
    });
    assert.deepEqual(ops, [
      {
        op: "link.add",
        ifAbsent: true,
        spec: { kind: "macvlan", name: "mv-node", parent: "eth1", mode: "bridge" },
      },
      { op: "addr.add", dev: "mv-node", cidr: "10.70.0.254/32", ifAbsent: true, noDad: false },
      { op: "link.set", name: "mv-node", up: true },
      { op: "route.replace", route: { dst: "10.70.0.0/24", dev: "mv-node", src: "10.70.0.254" } },
    ]);
  });
});

describe("strata-macvlan configuration", () => {
  test("defaults: bridge mode, master and MTU from the node, no IPAM for {}", () => {
    assert.deepEqual(parseMacvlanConfig({ ipam: {} }), {
      master: undefined,
      mode: "bridge",
      mtu: undefined,
      mac: undefined,
      ipam: undefined,
    });
  });
  const bad: [string, Record<string, unknown>, RegExp, RegExp][] = [
    ["mode", { mode: "l2" }, /mode must be one of bridge, private, vepa, passthru/, /"mode" to "bridge"/],
    ["master", { master: "a/b" }, /master must be an interface name/, /"master"/],
    ["master", { master: "averyveryverylongname" }, /master must be an interface name/, /"master"/],
    ["mtu", { mtu: 40 }, /mtu must be at least 68/, /at most the master's MTU/],
    ["mtu", { mtu: "1500" }, /mtu/, /mtu/],
    ["mac", { mac: "01:00:5e:00:00:01" }, /mac must be a unicast MAC/, /"mac"/],
    ["mac", { mac: "nope" }, /mac must be a MAC address/, /"mac"/],
    ["ipam", { ipam: { type: "" } }, /ipam.type needs a "type"/, /"ipam": \{"type": "strata-ipam"/],
  ];
  for (const [key, raw, msg, hint] of bad) {
    test(`bad ${key} ${JSON.stringify(raw[key])} is code 7 naming it and the fix`, () => {
      assert.throws(
        () => parseMacvlanConfig(raw),
        (e: unknown) =>
          e instanceof CniError && e.cniCode === 7 && msg.test(e.message) && hint.test(e.details),
      );
    });
  }
});
