import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import type { NodeLease } from "../../cluster/node-lease.js";
import { currentNetns, type Kernel } from "../../kernel/api.js";
import {
  type BpfTunnelConfig,
  type BpfTunnelDatapath,
  type TunnelPeer,
  tunnelOverhead,
} from "../../kernel/bpf-tunnel/api.js";
import { planReconcile } from "../../kernel/desired/plan.js";
import { batchLine, renderOp } from "../../kernel/iproute2/render.js";
import type { LocalNode } from "../api.js";
import type { BackendDefinition } from "../definition.js";
import { createBackendFrom, parseBackendOptions } from "../definition.js";
import { backendRegistry, findBackend } from "../registry.js";
import {
  bpfTunnelConfig,
  bpfTunnelPeers,
  createTunnelBackend,
  type TunnelSpec,
  tunnelDesired,
} from "./tunnel.js";
import { chooseTunnelDatapath, TunnelDatapathError } from "./tunnel-datapath.js";

const lease = (node: string, subnet: string, publicIp: string, data: Record<string, string>): NodeLease => ({
  node,
  subnet,
  publicIp,
  publicPrefix: 24,
  backend: "ipip",
  backendData: data,
});
const ipipData = { tunnel: "ipip" };
const self: LocalNode = {
  lease: lease("n1", "10.244.1.0/24", "192.168.10.11", ipipData),
  underlayDev: "eth0",
  underlayMtu: 1500,
};
const sameSubnet = lease("n2", "10.244.2.0/24", "192.168.10.12", ipipData);
const acrossRouter = lease("n3", "10.244.3.0/24", "192.168.20.13", ipipData);
const ipip: TunnelSpec = { proto: "ipip", crossSubnet: false };
const ipipCs: TunnelSpec = { proto: "ipip", crossSubnet: true };

/** The iproute2 commands a first reconcile runs for a desired state (nothing in the kernel yet). */
const firstPassCommands = (d: ReturnType<typeof tunnelDesired>) =>
  planReconcile(d, { links: [], addresses: [], routes: [], neighbours: [], fdb: [] })
    .flatMap(renderOp)
    .map((r) => `${r.tool} ${batchLine(r.args)}`);

describe("ipip and gre backends: MTU", () => {
  test("pod MTU is the underlay's minus 20 (IPIP), 24 (GRE), 28 (GRE with a key)", () => {
    assert.equal(tunnelOverhead("ipip"), 20);
    assert.equal(tunnelOverhead("gre"), 24);
    assert.equal(tunnelOverhead("gre", 0), 28);
    const build = (name: string, values: Record<string, string>) => {
      const def = findBackend(backendRegistry as readonly BackendDefinition[], name);
      if (!def) throw new Error(`no ${name}`);
      return createBackendFrom(def, { datapath: "auto", sleevePort: "6783", ...values }, { node: "n1" });
    };
    assert.equal(build("ipip", {}).podMtu(1500), 1480);
    assert.equal(build("ipip-crosssubnet", {}).podMtu(9000), 8980);
    assert.equal(build("gre", {}).podMtu(1500), 1476);
    assert.equal(build("gre-crosssubnet", { greKey: "42" }).podMtu(1500), 1472);
  });

  test("the tunnel device's MTU is the pod MTU, for both datapaths", () => {
    for (const datapath of ["kernel", "bpf"] as const) {
      assert.equal(tunnelDesired(ipip, datapath, self, [sameSubnet]).devices[0]?.mtu, 1480);
      const gre = { proto: "gre", crossSubnet: false, greKey: 7 } as const;
      assert.equal(tunnelDesired(gre, datapath, self, []).devices[0]?.mtu, 1472);
    }
  });
});

describe("ipip and gre backends: the kernel device (Calico's pattern), as rendered commands", () => {
  test("one ipip device local <node> remote any, the pod subnet's network address on it, onlink routes via each node", () => {
    const d = tunnelDesired(ipip, "kernel", self, [sameSubnet, acrossRouter]);
    assert.deepEqual(firstPassCommands(d), [
      "ip link add name strata.ipip mtu 1480 type ipip local 192.168.10.11 remote any",
      "ip link set dev strata.ipip up",
      "ip addr add 10.244.1.0/32 dev strata.ipip",
      "ip route replace 10.244.2.0/24 via 192.168.10.12 dev strata.ipip onlink proto 147",
      "ip route replace 10.244.3.0/24 via 192.168.20.13 dev strata.ipip onlink proto 147",
    ]);
    assert.deepEqual(d.unreachable, []);
  });

  test("gre with a key: the key on the device, the same routes", () => {
    const greData = { tunnel: "gre", greKey: "7" };
    const peer = lease("n2", "10.244.2.0/24", "192.168.10.12", greData);
    const d = tunnelDesired({ proto: "gre", crossSubnet: false, greKey: 7 }, "kernel", self, [peer]);
    assert.deepEqual(firstPassCommands(d).slice(0, 1), [
      "ip link add name strata.gre mtu 1472 type gre local 192.168.10.11 remote any key 7",
    ]);
    assert.deepEqual(d.routes, [
      { dst: "10.244.2.0/24", via: "192.168.10.12", dev: "strata.gre", onlink: true },
    ]);
  });
});

describe("ipip and gre backends: the tc-BPF datapath's kernel side", () => {
  test("a TUN device and a route per peer subnet straight to it (the program picks the outer header)", () => {
    const d = tunnelDesired(ipip, "bpf", self, [sameSubnet, acrossRouter]);
    assert.deepEqual(firstPassCommands(d), [
      "ip tuntap add dev strata.ipip mode tun",
      "ip link set dev strata.ipip mtu 1480",
      "ip link set dev strata.ipip up",
      "ip addr add 10.244.1.0/32 dev strata.ipip",
      "ip route replace 10.244.2.0/24 dev strata.ipip proto 147",
      "ip route replace 10.244.3.0/24 dev strata.ipip proto 147",
    ]);
  });

  test("the datapath's configuration: outer source the node's underlay address, the GRE key only for GRE", () => {
    assert.deepEqual(bpfTunnelConfig(ipip, self), {
      proto: "ipip",
      tunnelDev: "strata.ipip",
      underlayDev: "eth0",
      localIp: "192.168.10.11",
      mtu: 1480,
    });
    assert.equal(bpfTunnelConfig({ proto: "gre", crossSubnet: false, greKey: 0 }, self).greKey, 0);
    assert.equal("greKey" in bpfTunnelConfig({ proto: "gre", crossSubnet: false }, self), false);
  });
});

describe("ipip-crosssubnet and gre-crosssubnet", () => {
  test("a direct route to the node on this subnet, the tunnel to the node across the router", () => {
    for (const datapath of ["kernel", "bpf"] as const) {
      const d = tunnelDesired(ipipCs, datapath, self, [sameSubnet, acrossRouter]);
      assert.deepEqual(d.routes[0], { dst: "10.244.2.0/24", via: "192.168.10.12", dev: "eth0" });
      assert.equal(d.routes[1]?.dev, "strata.ipip");
      assert.equal(d.routes.length, 2);
    }
    // The BPF peer map holds only the tunnelled node: a same-subnet node's packets are not decapsulated.
    assert.deepEqual(bpfTunnelPeers(ipipCs, self, [sameSubnet, acrossRouter]), [
      { node: "n3", nodeIp: "192.168.20.13", podCidr: "10.244.3.0/24" },
    ]);
    assert.equal(bpfTunnelPeers(ipip, self, [self.lease, sameSubnet, acrossRouter]).length, 2);
  });
});

describe("ipip and gre backends: peers that cannot take our packets", () => {
  test("a peer on another backend or with another GRE key is unreachable with the reason, and not in the peer map", () => {
    const vxlanPeer = { ...acrossRouter, backend: "vxlan", backendData: { vtepMac: "02:00:00:00:00:03" } };
    const d = tunnelDesired(ipip, "bpf", self, [sameSubnet, vxlanPeer]);
    assert.deepEqual(d.routes, [{ dst: "10.244.2.0/24", dev: "strata.ipip" }]);
    assert.match(d.unreachable[0]?.reason ?? "", /peer runs the vxlan backend, not ipip/);
    assert.equal(bpfTunnelPeers(ipip, self, [vxlanPeer]).length, 0);

    const gre7 = { proto: "gre", crossSubnet: false, greKey: 7 } as const;
    const keyless = lease("n2", "10.244.2.0/24", "192.168.10.12", { tunnel: "gre" });
    assert.match(
      tunnelDesired(gre7, "kernel", self, [keyless]).unreachable[0]?.reason ?? "",
      /GRE key is none, ours 7/,
    );
  });
});

describe("choosing the datapath (--datapath)", () => {
  const noBpf = { ok: false, reason: "tunnel.bpf.o is not built" } as const;
  test("auto takes the kernel device where the module exists, else BPF; the reason says which", () => {
    assert.deepEqual(chooseTunnelDatapath("ipip", "auto", { kernelModule: true, bpf: noBpf }), {
      datapath: "kernel",
      reason: "auto: the kernel has the ipip module",
    });
    const bpf = chooseTunnelDatapath("gre", "auto", { kernelModule: false, bpf: { ok: true } });
    assert.equal(bpf.datapath, "bpf");
    assert.match(bpf.reason, /no gre module/);
  });

  test("--datapath kernel without the module is refused in one line naming the module and --datapath bpf", () => {
    assert.throws(
      () => chooseTunnelDatapath("ipip", "kernel", { kernelModule: false, bpf: { ok: true } }),
      (e) =>
        e instanceof TunnelDatapathError &&
        /no ipip module/.test(e.message) &&
        /--datapath bpf/.test(e.message) &&
        !e.message.includes("\n"),
    );
  });

  test("--datapath bpf (or auto without the module) where the object is not built is refused naming clang", () => {
    for (const requested of ["bpf", "auto"] as const)
      assert.throws(
        () => chooseTunnelDatapath("gre", requested, { kernelModule: false, bpf: noBpf }),
        (e) =>
          e instanceof TunnelDatapathError &&
          /tunnel\.bpf\.o is not built/.test(e.message) &&
          /clang/.test(e.message),
      );
  });

  test("flag values: --datapath one of auto, kernel, bpf, sleeve; --gre-key a 32-bit number", () => {
    const gre = findBackend(backendRegistry as readonly BackendDefinition[], "gre");
    if (!gre) throw new Error("no gre");
    assert.deepEqual(
      parseBackendOptions(gre, { datapath: "bpf", greKey: "4294967295", sleevePort: "6783" }),
      {
        datapath: "bpf",
        greKey: 4294967295,
        sleevePort: 6783,
      },
    );
    assert.throws(
      () => parseBackendOptions(gre, { datapath: "ebpf", sleevePort: "6783" }),
      /^BackendOptionsError: --datapath: "ebpf" is not auto, kernel, bpf or sleeve$/,
    );
    assert.throws(
      () => parseBackendOptions(gre, { datapath: "auto", greKey: "4294967296", sleevePort: "6783" }),
      /--gre-key: "4294967296" is not a whole number/,
    );
  });
});

/** A BPF datapath that records what it is asked (the real one is src/kernel/bpf-tunnel, tested there). */
function recordingDatapath(): BpfTunnelDatapath & { calls: string[]; peers: TunnelPeer[] } {
  const calls: string[] = [];
  let peers: TunnelPeer[] = [];
  return {
    calls,
    get peers() {
      return peers;
    },
    available: async () => ({ ok: true }),
    async ensure(_ns, c: BpfTunnelConfig) {
      calls.push(`ensure ${c.proto} ${c.tunnelDev} ${c.localIp}`);
    },
    async syncPeers(_ns, _c, next) {
      const key = (p: TunnelPeer) => `${p.node} ${p.nodeIp} ${p.podCidr}`;
      const before = new Set(peers.map(key));
      const after = new Set(next.map(key));
      const added = next.filter((p) => !before.has(key(p))).length;
      const removed = peers.filter((p) => !after.has(key(p))).length;
      peers = [...next];
      calls.push(`sync ${next.map((p) => p.node).join(",")}`);
      return { added, removed, changed: 0 };
    },
    counters: async () => ({ encapsulated: 0, decapsulated: 0, dropped: {} }),
    async remove() {
      calls.push("remove");
    },
  };
}

describe("the backend hooks the agent calls", () => {
  const host = { kernel: {} as Kernel, netns: currentNetns, logger: pino({ level: "silent" }) };

  test("--datapath bpf: prepare picks BPF, applyDatapath ensures the programs and syncs the peer set each pass; nothing is removed", async () => {
    const dp = recordingDatapath();
    const backend = createTunnelBackend({
      proto: "ipip",
      crossSubnet: true,
      datapath: "bpf",
      bpfTunnel: () => dp,
    });
    assert.throws(() => backend.desired(self, []), /chosen by prepare/);
    await backend.prepare?.(host);
    assert.equal(backend.status?.().datapath, "bpf");
    assert.equal(backend.desired(self, []).devices[0]?.kind, "tun");
    await backend.applyDatapath?.(host, self, [sameSubnet, acrossRouter]);
    const n4 = lease("n4", "10.244.4.0/24", "192.168.30.14", ipipData);
    await backend.applyDatapath?.(host, self, [sameSubnet, n4]);
    await backend.stop?.();
    assert.deepEqual(dp.calls, [
      "ensure ipip strata.ipip 192.168.10.11",
      "sync n3",
      "ensure ipip strata.ipip 192.168.10.11",
      "sync n4",
    ]);
    assert.deepEqual(backend.status?.().peerMapSync, {
      ...(backend.status?.().peerMapSync as object),
      peers: 1,
      added: 1,
      removed: 1,
    });
  });

  test("--datapath bpf in a build without the datapath is refused at prepare, naming clang", async () => {
    const backend = createTunnelBackend({ proto: "gre", crossSubnet: false, datapath: "bpf" });
    await assert.rejects(
      backend.prepare?.(host) ?? Promise.resolve(),
      (e) => e instanceof TunnelDatapathError && /clang/.test(e.message),
    );
  });
});
