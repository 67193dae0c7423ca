import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../cni/errors.js";
import { namedNetns } from "../../kernel/api.js";
import { parseSriovConfig } from "./config.js";
import {
  netdevBackToNode,
  netdevIntoPod,
  vfioBindWrites,
  vfioUnbindWrites,
  vfResetArgs,
  vfSettingsArgs,
} from "./plan.js";

const claim = {
  containerId: "c",
  ifName: "net1",
  pf: "ens1f0",
  vfIndex: 3,
  pciAddress: "0000:3b:02.3",
  deviceType: "netdevice" as const,
  netdev: "ens1f0v3",
  mac: "aa:bb:cc:00:00:03",
};

describe("strata-sriov plan", () => {
  test("VF settings through the PF: MAC, VLAN always (0 untags), QoS only with a VLAN, spoofchk and trust only when configured", () => {
    assert.deepEqual(vfSettingsArgs("ens1f0", 3, parseSriovConfig({ master: "ens1f0" }), undefined), [
      "link",
      "set",
      "dev",
      "ens1f0",
      "vf",
      "3",
      "vlan",
      "0",
    ]);
    assert.deepEqual(
      vfSettingsArgs(
        "ens1f0",
        3,
        parseSriovConfig({ master: "ens1f0", vlan: 10, vlanQoS: 5, spoofchk: "on", trust: "off" }),
        "02:00:00:00:00:01",
      ),
      [
        "link",
        "set",
        "dev",
        "ens1f0",
        "vf",
        "3",
        "mac",
        "02:00:00:00:00:01",
        "vlan",
        "10",
        "qos",
        "5",
        "spoofchk",
        "on",
        "trust",
        "off",
      ],
    );
  });

  test("reset on DEL: the original MAC, untagged, spoof checking back on, trust off", () => {
    assert.deepEqual(
      vfResetArgs(claim, parseSriovConfig({ master: "ens1f0", spoofchk: "off", trust: "on" })),
      [
        "link",
        "set",
        "dev",
        "ens1f0",
        "vf",
        "3",
        "mac",
        "aa:bb:cc:00:00:03",
        "vlan",
        "0",
        "spoofchk",
        "on",
        "trust",
        "off",
      ],
    );
  });

  test("vfio-pci binding: driver_override, unbind the current driver, drivers_probe; and back", () => {
    const vf = { dir: "/sys/bus/pci/devices/0000:3b:02.3", pciAddress: "0000:3b:02.3", driver: "iavf" };
    assert.deepEqual(vfioBindWrites("/sys", vf), [
      { path: "/sys/bus/pci/devices/0000:3b:02.3/driver_override", value: "vfio-pci" },
      { path: "/sys/bus/pci/devices/0000:3b:02.3/driver/unbind", value: "0000:3b:02.3" },
      { path: "/sys/bus/pci/drivers_probe", value: "0000:3b:02.3" },
    ]);
    assert.equal(
      vfioBindWrites("/sys", { ...vf, driver: undefined }).length,
      2,
      "an unbound VF needs no unbind",
    );
    assert.deepEqual(
      vfioUnbindWrites("/sys", vf).map((w) => w.value),
      ["0000:3b:02.3", "\n", "0000:3b:02.3"],
    );
  });

  test("the netdev moves down into the pod, is renamed there with MAC and MTU; it goes back renamed with its MAC", () => {
    const pod = namedNetns("pod");
    assert.deepEqual(netdevIntoPod("ens1f0v3", "net1", pod, { mac: "02:00:00:00:00:01", mtu: 1500 }), {
      node: [{ op: "link.set", name: "ens1f0v3", up: false, netns: pod }],
      pod: [{ op: "link.set", name: "ens1f0v3", rename: "net1", mac: "02:00:00:00:00:01", mtu: 1500 }],
    });
    const node = namedNetns("node");
    assert.deepEqual(netdevBackToNode("net1", claim, node), [
      { op: "link.set", name: "net1", up: false, rename: "ens1f0v3", mac: "aa:bb:cc:00:00:03", netns: node },
    ]);
  });

  const bad: [Record<string, unknown>, RegExp][] = [
    [{}, /master is required/],
    [{ master: "pf0", vlan: 4095 }, /vlan must be 0-4094/],
    [{ master: "pf0", vlanQoS: 3 }, /vlanQoS needs a vlan/],
    [{ master: "pf0", spoofchk: true }, /spoofchk must be "on" or "off"/],
    [{ master: "pf0", deviceType: "dpdk" }, /deviceType must be "netdevice" or "vfio-pci"/],
    [
      { master: "pf0", deviceType: "vfio-pci", ipam: { type: "strata-ipam" } },
      /ipam is not possible with "deviceType": "vfio-pci"/,
    ],
    [{ master: "pf0", sysfsRoot: "sys" }, /sysfsRoot must be an absolute path/],
  ];
  for (const [raw, msg] of bad) {
    test(`configuration ${JSON.stringify(raw)} is code 7: ${msg.source}`, () => {
      assert.throws(
        () => parseSriovConfig(raw),
        (e: unknown) =>
          e instanceof CniError && e.cniCode === 7 && msg.test(e.message) && e.details.length > 0,
      );
    });
  }
});
