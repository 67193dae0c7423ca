import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../cni/errors.js";
import { type KernelCapabilities, type Link, netnsAtPath } from "../../kernel/api.js";
import { KernelError } from "../../kernel/errors.js";
import { renderOp } from "../../kernel/iproute2/render.js";
import { ipvlanModes, parseIpvlanConfig } from "./config.js";
import { explainIpvlanRefusal, ipvlanLinkOp, ipvlanMismatch, ipvlanStatus } from "./plan.js";

const master: Link = { index: 3, name: "eth1", mtu: 9000, up: true, operState: "UP" };
const at = { master: "eth1", ifName: "net1", podNetns: netnsAtPath("/proc/42/ns/net") };

describe("strata-ipvlan plan (the working path, rendered: this kernel has no ipvlan)", () => {
  for (const mode of ipvlanModes) {
    test(`mode ${mode}: one ip command makes the ipvlan on the master inside the pod`, () => {
      const op = ipvlanLinkOp(parseIpvlanConfig({ master: "eth1", mode, mtu: 1500 }), at);
      assert.deepEqual(renderOp(op), [
        {
          tool: "ip",
          args: [
            "link",
            "add",
            "name",
            "net1",
            "mtu",
            "1500",
            "link",
            "eth1",
            "netns",
            "/proc/42/ns/net",
            "type",
            "ipvlan",
            "mode",
            mode,
          ],
        },
      ]);
    });
  }

  test("an ipvlan never gets a MAC of its own, even when the runtime asks", () => {
    const op = ipvlanLinkOp(parseIpvlanConfig({}), { ...at, mac: "02:00:00:00:00:09" });
    assert.ok(!renderOp(op)[0]?.args.includes("address"));
  });

  test("the kernel's 'Unknown device type' is code 101 naming CONFIG_IPVLAN; STATUS says 50 from the probe", () => {
    const e = explainIpvlanRefusal(
      new KernelError("unsupported", "link.add", "Error: Unknown device type."),
      parseIpvlanConfig({}),
      master,
    );
    assert.ok(e instanceof CniError);
    assert.equal(e.cniCode, 101);
    assert.match(e.message, /no ipvlan link type \(kernel feature CONFIG_IPVLAN, module ipvlan\)/);
    assert.match(e.details, /modprobe ipvlan/);
    const caps = (ipvlan: boolean) =>
      ({ linkKinds: { ipvlan }, nftables: true, iptables: true }) as unknown as KernelCapabilities;
    assert.equal(ipvlanStatus(caps(true)), undefined);
    assert.equal(ipvlanStatus(caps(false))?.cniCode, 50);
  });

  test("a master refusing a second mode is code 7", () => {
    const e = explainIpvlanRefusal(
      new KernelError("invalid", "link.add", "Invalid argument"),
      parseIpvlanConfig({}),
      master,
    );
    assert.equal(e?.cniCode, 7);
    assert.match(e?.details ?? "", /single mode/);
  });

  test("CHECK: the link must be an ipvlan", () => {
    assert.equal(ipvlanMismatch({ ...master, kind: "ipvlan" }, parseIpvlanConfig({})), undefined);
    assert.match(
      ipvlanMismatch({ ...master, kind: "macvlan" }, parseIpvlanConfig({})) ?? "",
      /not an ipvlan/,
    );
  });

  test("configuration: l2 by default; a bad mode is code 7 with the modes", () => {
    assert.equal(parseIpvlanConfig({}).mode, "l2");
    assert.throws(
      () => parseIpvlanConfig({ mode: "bridge" }),
      (e: unknown) =>
        e instanceof CniError && e.cniCode === 7 && /mode must be one of l2, l3, l3s/.test(e.message),
    );
  });
});
