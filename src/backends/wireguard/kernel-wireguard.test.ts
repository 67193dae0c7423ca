import assert from "node:assert/strict";
import { test } from "node:test";
import type { Kernel, KernelCapabilities } from "../../kernel/api.js";
import { planReconcile } from "../../kernel/desired/plan.js";
import { parseWgDump, wgSetArgv } from "./kernel-wireguard.js";
import { wireguardDesired } from "./wireguard.js";
import { chooseWireguardDatapath, WireguardDatapathError } from "./wireguard-datapath.js";

const k2 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const k3 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const local = {
  lease: {
    node: "n1",
    subnet: "10.244.1.0/24",
    publicIp: "192.168.10.11",
    publicPrefix: 24,
    backend: "wireguard",
    backendData: {},
  },
  underlayDev: "eth0",
  underlayMtu: 1500,
};

test("kernel datapath: the device is created by `ip link add … type wireguard` at underlay − 60, up, with the pod network address", () => {
  const desired = wireguardDesired("kernel", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", 25, local, []);
  const ops = planReconcile(desired, { links: [], addresses: [], routes: [], neighbours: [], fdb: [] });
  assert.deepEqual(ops.slice(0, 3), [
    { op: "link.add", spec: { kind: "wireguard", name: "strata.wg", mtu: 1440 }, ifAbsent: true },
    { op: "link.set", name: "strata.wg", up: true },
    { op: "addr.add", dev: "strata.wg", cidr: "10.244.1.0/32", ifAbsent: true },
  ]);
});

test("kernel datapath: the same diff rendered as `wg set` (private key by file, never on the command line)", () => {
  assert.deepEqual(
    wgSetArgv(
      "strata.wg",
      {
        privateKey: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        listenPort: 51820,
        peers: [
          { publicKey: k2, endpoint: "192.168.10.12:51820", allowedIps: ["10.244.2.0/24"], keepalive: 25 },
          { publicKey: k3, remove: true },
        ],
      },
      "/var/lib/strata/wireguard/private.key",
    ),
    [
      ...[
        "wg",
        "set",
        "strata.wg",
        "private-key",
        "/var/lib/strata/wireguard/private.key",
        "listen-port",
        "51820",
      ],
      ...[
        "peer",
        k2,
        "endpoint",
        "192.168.10.12:51820",
        "persistent-keepalive",
        "25",
        "allowed-ips",
        "10.244.2.0/24",
      ],
      ...["peer", k3, "remove"],
    ],
  );
  assert.deepEqual(
    wgSetArgv("strata.wg", { peers: [{ publicKey: k2, allowedIps: [], keepalive: 0 }] }, "/k"),
    [...["wg", "set", "strata.wg", "peer", k2, "persistent-keepalive", "off", "allowed-ips", ""]],
  );
});

test("kernel datapath: `wg show strata.wg dump` is read back into the device's state", () => {
  const dump = [
    ["yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "pub", "51820", "off"].join("\t"),
    [
      k2,
      "(none)",
      "192.168.10.12:51820",
      "10.244.2.0/24,10.244.9.0/24",
      "1700000000",
      "2000",
      "1000",
      "25",
    ].join("\t"),
    [k3, "(none)", "(none)", "(none)", "0", "0", "0", "off"].join("\t"),
    "",
  ].join("\n");
  assert.deepEqual(parseWgDump(dump), {
    privateKey: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
    listenPort: 51820,
    peers: [
      {
        publicKey: k2,
        endpoint: "192.168.10.12:51820",
        allowedIps: ["10.244.2.0/24", "10.244.9.0/24"],
        keepalive: 25,
        lastHandshake: 1700000000,
        rxBytes: 2000,
        txBytes: 1000,
      },
      { publicKey: k3, allowedIps: [], keepalive: 0, lastHandshake: 0, rxBytes: 0, txBytes: 0 },
    ],
  });
});

test("datapath: auto takes the kernel's device where the module exists, else wireguard-go, and says why", () => {
  const go = { ok: true } as const;
  assert.equal(chooseWireguardDatapath("auto", { kernelModule: true, wireguardGo: go }).datapath, "kernel");
  const fallback = chooseWireguardDatapath("auto", { kernelModule: false, wireguardGo: go });
  assert.equal(fallback.datapath, "wireguard-go");
  assert.match(fallback.reason, /no wireguard module/);
  assert.throws(
    () => chooseWireguardDatapath("kernel", { kernelModule: false, wireguardGo: go }),
    (e: unknown) =>
      e instanceof WireguardDatapathError && /--wireguard-datapath wireguard-go/.test(e.message),
  );
  assert.throws(
    () =>
      chooseWireguardDatapath("auto", {
        kernelModule: false,
        wireguardGo: { ok: false, reason: "wireguard-go not found on PATH" },
      }),
    /no wireguard module and wireguard-go not found/,
  );
});

test("datapath on this machine's kernel: the probe finds no wireguard link kind, so auto falls back to wireguard-go", async (t) => {
  const { createIproute2Kernel } = await import("../../kernel/iproute2/index.js");
  if (process.getuid?.() !== 0) return t.skip("needs root (the probe makes a namespace)");
  const kernel: Kernel = createIproute2Kernel();
  const caps: KernelCapabilities = await kernel.probe();
  const choice = chooseWireguardDatapath("auto", {
    kernelModule: caps.linkKinds.wireguard,
    wireguardGo: { ok: true },
  });
  assert.equal(choice.datapath, caps.linkKinds.wireguard ? "kernel" : "wireguard-go");
});
