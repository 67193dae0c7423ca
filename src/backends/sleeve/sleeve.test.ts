import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import type { NodeLease } from "../../cluster/node-lease.js";
import { currentNetns } from "../../kernel/api.js";
import { createBpfTunnelDatapath } from "../../kernel/bpf-tunnel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { createSleeveDatapath } from "../../kernel/sleeve/datapath.js";
import { builtSleeveHelperPath } from "../../kernel/sleeve/helper-path.js";
import type { LocalNode } from "../api.js";
import { createTunnelBackend, type TunnelSpec, tunnelDesired } from "../tunnel/tunnel.js";
import { chooseTunnelDatapath, TunnelDatapathError } from "../tunnel/tunnel-datapath.js";
import { createSleeveBackend, SleeveUnavailableError, sleeveDesired } from "./sleeve.js";

const lease = (node: string, subnet: string, publicIp: string, data: Record<string, string>): NodeLease => ({
  node,
  subnet,
  publicIp,
  publicPrefix: 24,
  backend: "ipip",
  backendData: data,
});
const self: LocalNode = {
  lease: lease("n1", "10.244.1.0/24", "192.168.10.11", { tunnel: "ipip", sleevePort: "6783" }),
  underlayDev: "eth0",
  underlayMtu: 1500,
};
const fastPeer = lease("n2", "10.244.2.0/24", "192.168.10.12", { tunnel: "ipip", sleevePort: "6783" });
const sleevePeer = lease("n3", "10.244.3.0/24", "192.168.20.13", {
  tunnel: "ipip",
  datapath: "sleeve",
  sleevePort: "7000",
});
const oldPeer = lease("n4", "10.244.4.0/24", "192.168.10.14", { tunnel: "ipip" });
const ipip: TunnelSpec = { proto: "ipip", crossSubnet: false };
const silent = pino({ level: "silent" });

describe("fallback selection (--datapath auto)", () => {
  const noBpf = { ok: false, reason: "tunnel.bpf.o is not built" } as const;
  test("neither the module nor BPF: auto falls back to sleeve and says why", () => {
    const c = chooseTunnelDatapath("ipip", "auto", { kernelModule: false, bpf: noBpf, sleeve: { ok: true } });
    assert.equal(c.datapath, "sleeve");
    assert.match(c.reason, /no ipip module and tc-BPF cannot run \(tunnel\.bpf\.o is not built\); sleeve/);
  });

  test("a faster datapath wins over sleeve; nothing at all is refused naming all three", () => {
    assert.equal(
      chooseTunnelDatapath("gre", "auto", { kernelModule: false, bpf: { ok: true }, sleeve: { ok: true } })
        .datapath,
      "bpf",
    );
    assert.throws(
      () =>
        chooseTunnelDatapath("gre", "auto", {
          kernelModule: false,
          bpf: noBpf,
          sleeve: { ok: false, reason: "sleeve helper not built" },
        }),
      (e) =>
        e instanceof TunnelDatapathError &&
        /no gre module/.test(e.message) &&
        /nor sleeve: sleeve helper not built/.test(e.message),
    );
  });

  test("the ipip backend on this kernel with a BPF probe that fails (its object missing) runs on sleeve: status, pod MTU, lease data and routes say so", async () => {
    const kernel = createIproute2Kernel();
    const backend = createTunnelBackend({
      ...ipip,
      datapath: "auto",
      bpfTunnel: (k) => createBpfTunnelDatapath({ objectPath: "/nonexistent/tunnel.bpf.o", kernel: k }),
      sleeve: (logger) => createSleeveDatapath({ helperPath: builtSleeveHelperPath, logger }),
      sleevePort: 6783,
    });
    if ((await kernel.probe()).linkKinds.ipip) return; // a kernel with the module takes it (tested above)
    await backend.prepare?.({ kernel, netns: currentNetns, logger: silent });
    const status = backend.status?.() ?? {};
    assert.equal(status.datapath, "sleeve");
    assert.match(String(status.datapathReason), /\/nonexistent\/tunnel\.bpf\.o is missing/);
    assert.equal(backend.podMtu(1500), 1464);
    assert.deepEqual(backend.localBackendData(), { tunnel: "ipip", datapath: "sleeve", sleevePort: "6783" });
    const d = backend.desired(self, [fastPeer, sleevePeer, oldPeer]);
    assert.deepEqual(d.devices, [{ kind: "tun", name: "strata.sleeve", mtu: 1464 }]);
    assert.deepEqual(d.routes, [
      { dst: "10.244.2.0/24", dev: "strata.sleeve" },
      { dst: "10.244.3.0/24", dev: "strata.sleeve" },
    ]);
    assert.deepEqual(
      d.unreachable.map((u) => u.node),
      ["n4"],
    );
    await backend.stop?.();
  });
});

describe("per peer: a node on a fast datapath reaches a sleeve-only peer through sleeve", () => {
  test("with its own helper: that peer's route goes into strata.sleeve, the others into strata.ipip", () => {
    const d = tunnelDesired(ipip, "bpf", self, [fastPeer, sleevePeer], true);
    assert.deepEqual(d.routes, [
      { dst: "10.244.2.0/24", dev: "strata.ipip" },
      { dst: "10.244.3.0/24", dev: "strata.sleeve" },
    ]);
    assert.deepEqual(
      d.devices.map((x) => x.name),
      ["strata.ipip", "strata.sleeve"],
    );
  });

  test("without a helper of its own the sleeve-only peer is unreachable, with the reason", () => {
    const d = tunnelDesired(ipip, "bpf", self, [fastPeer, sleevePeer], false);
    assert.deepEqual(d.routes, [{ dst: "10.244.2.0/24", dev: "strata.ipip" }]);
    assert.match(
      d.unreachable[0]?.reason ?? "",
      /n?sleeve datapath and this node's sleeve helper cannot run/,
    );
  });
});

describe("the sleeve backend", () => {
  test("desired: the TUN device with the node's /32, a route per peer that takes sleeve, the rest unreachable", () => {
    const d = sleeveDesired(self, [self.lease, fastPeer, oldPeer]);
    assert.deepEqual(d.devices, [{ kind: "tun", name: "strata.sleeve", mtu: 1464 }]);
    assert.deepEqual(d.addresses, [["strata.sleeve", "10.244.1.0/32"]]);
    assert.deepEqual(d.routes, [{ dst: "10.244.2.0/24", dev: "strata.sleeve" }]);
    assert.match(d.unreachable[0]?.reason ?? "", /publishes no sleevePort/);
  });

  test("a build without the helper is refused at prepare, naming what to install", async () => {
    const backend = createSleeveBackend({
      port: 6783,
      datapath: (logger) => createSleeveDatapath({ helperPath: "/nonexistent/strata-sleeve", logger }),
    });
    await assert.rejects(
      backend.prepare?.({ kernel: createIproute2Kernel(), netns: currentNetns, logger: silent }) ??
        Promise.resolve(),
      (e) => e instanceof SleeveUnavailableError && /helper not built.*cc.*npm run build/.test(e.message),
    );
  });
});
