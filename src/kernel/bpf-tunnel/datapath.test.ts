import assert from "node:assert/strict";
import { test } from "node:test";
import { namedNetns } from "../api.js";
import { createIproute2Kernel } from "../iproute2/index.js";
import { type BpfTunnelConfig, createBpfTunnelDatapath, tunnelOverhead } from "./api.js";
import { validateTunnelConfig } from "./datapath.js";
import { BpfTunnelError } from "./errors.js";

const config: BpfTunnelConfig = {
  proto: "gre",
  greKey: 7,
  tunnelDev: "strata.gre",
  underlayDev: "eth0",
  localIp: "192.168.10.11",
  mtu: 1472,
};

test("without the compiled object the datapath is unavailable, says why, and ensure refuses with a typed error", async () => {
  const dp = createBpfTunnelDatapath({
    objectPath: "/nonexistent/tunnel.bpf.o",
    kernel: createIproute2Kernel(),
  });
  const a = await dp.available();
  assert.equal(a.ok, false);
  assert.match(a.ok ? "" : a.reason, /^bpf datapath not built \(install clang\)/);
  await assert.rejects(
    dp.ensure(namedNetns("strata-t-never-made"), config),
    (e: unknown) => e instanceof BpfTunnelError && e.code === "bpf-tunnel.unavailable",
  );
});

test("the overhead per packet: IPIP 20 B, GRE 24 B, GRE with a key 28 B", () => {
  assert.deepEqual([tunnelOverhead("ipip"), tunnelOverhead("gre"), tunnelOverhead("gre", 0)], [20, 24, 28]);
});

test("a bad config is refused before anything is touched, naming the field and what it takes", () => {
  const refuse = (patch: Partial<Record<keyof BpfTunnelConfig, unknown>>, re: RegExp) =>
    assert.throws(
      () => validateTunnelConfig({ ...config, ...patch } as BpfTunnelConfig),
      (e: unknown) =>
        e instanceof BpfTunnelError && e.code === "bpf-tunnel.invalid-config" && re.test(e.message),
    );
  refuse({ proto: "vxlan" }, /proto "vxlan": use "ipip" or "gre"/);
  refuse({ proto: "ipip" }, /greKey is for proto gre only/);
  refuse({ greKey: 2 ** 32 }, /greKey 4294967296: an integer from 0 to 4294967295/);
  refuse({ tunnelDev: "a-name-longer-than-15" }, /tunnelDev "a-name-longer-than-15": a link name of 1 to 15/);
  refuse({ underlayDev: "" }, /underlayDev "": a link name/);
  refuse({ localIp: "10.0.0" }, /localIp "10\.0\.0": an IPv4 address/);
  refuse({ mtu: 40 }, /mtu 40: an integer from 68 to 65535/);
  validateTunnelConfig(config);
});
