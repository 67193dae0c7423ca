import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import {
  buildTunnelTopology,
  captureWhile,
  ipBatch,
  routePodsThrough,
  sh,
  type TopologyNode,
  type TunnelTopology,
  withTunnelNamespaces,
} from "../../../test/support/bpf-tunnel-topology.js";
import { namedNetns } from "../api.js";
import {
  fastestSleeveFeatures,
  SLEEVE_DEFAULT_PORT,
  SLEEVE_DEVICE,
  SLEEVE_OVERHEAD,
  type SleeveConfig,
  type SleeveCounters,
  type SleeveDatapath,
  type SleeveFeatures,
  type SleevePeer,
} from "./api.js";
import { createSleeveDatapath } from "./datapath.js";
import { builtSleeveHelperPath } from "./helper-path.js";

const UNDERLAY_MTU = 1500;
const MTU = UNDERLAY_MTU - SLEEVE_OVERHEAD;

const configFor = (n: TopologyNode, features: SleeveFeatures = fastestSleeveFeatures): SleeveConfig => ({
  tunDev: SLEEVE_DEVICE,
  localIp: n.ip,
  localCidr: n.podCidr,
  port: SLEEVE_DEFAULT_PORT,
  mtu: MTU,
  features,
});
const peersOf = (n: TopologyNode, among: readonly TopologyNode[]): SleevePeer[] =>
  among
    .filter((o) => o !== n)
    .map((o) => ({ node: o.name, nodeIp: o.ip, podCidr: o.podCidr, port: SLEEVE_DEFAULT_PORT }));

/** What the sleeve backend's desired state makes (the TUN device with the node's /32), then the helpers. */
async function bringUp(
  topo: TunnelTopology,
  features?: SleeveFeatures,
): Promise<Map<TopologyNode, SleeveDatapath>> {
  const dps = new Map<TopologyNode, SleeveDatapath>();
  for (const n of topo.nodes) {
    const net = n.podCidr.split("/")[0];
    ipBatch(n.ns, [
      `tuntap add dev ${SLEEVE_DEVICE} mode tun`,
      `link set ${SLEEVE_DEVICE} mtu ${MTU} up`,
      `addr add ${net}/32 dev ${SLEEVE_DEVICE}`,
    ]);
    const dp = createSleeveDatapath({ helperPath: builtSleeveHelperPath });
    await dp.ensure(namedNetns(n.ns), configFor(n, features));
    await dp.syncPeers(peersOf(n, topo.nodes));
    dps.set(n, dp);
  }
  routePodsThrough(topo, SLEEVE_DEVICE);
  return dps;
}

async function stopAll(dps: Map<TopologyNode, SleeveDatapath>): Promise<void> {
  for (const dp of dps.values()) await dp.stop();
}

function ping(ns: string, dst: string, args: string[] = []): { sent: number; received: number; out: string } {
  let out: string;
  try {
    out = execFileSync("ip", ["netns", "exec", ns, "ping", "-n", "-W", "1", ...args, dst], {
      encoding: "utf8",
    });
  } catch (err) {
    out = `${String((err as { stdout?: string }).stdout ?? "")}${String((err as { stderr?: string }).stderr ?? "")}`;
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out };
}

/**
 * Hand-made sleeve datagrams (an ordinary UDP socket: the outer source is whatever address the
 * sending namespace holds): the 8-byte chunk header (magic 'S', one chunk) around an IPv4 ICMP echo.
 */
const SEND_SLEEVE = `
import socket, struct, sys
bind_ip, dst, port, count, isrc, idst = sys.argv[1:7]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x5354, 1) + b"strata-sleeve-test!!"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0x4000, 64, 1, 0,
                socket.inet_aton(isrc), socket.inet_aton(idst))
h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((bind_ip, 0))
for i in range(int(count)):
    s.sendto(struct.pack("!BBBBI", 0x53, 0, 0, 1, 1000 + i) + h + icmp, (dst, int(port)))
`;
function sendSleeve(
  ns: string,
  p: { from: string; to: string; count: number; innerSrc: string; innerDst: string },
) {
  sh(ns, [
    ...["python3", "-c", SEND_SLEEVE, p.from, p.to, String(SLEEVE_DEFAULT_PORT)],
    ...[String(p.count), p.innerSrc, p.innerDst],
  ]);
}

/**
 * What changed, without the TUN's own chatter: the kernel sends an occasional IPv6 packet (MLD)
 * out of the TUN device, which the helper drops as not-ipv4 on the way out.
 */
function delta(before: SleeveCounters, after: SleeveCounters): Record<string, number> {
  const d: Record<string, number> = {
    encapsulated: after.encapsulated - before.encapsulated,
    decapsulated: after.decapsulated - before.decapsulated,
  };
  for (const [k, x] of Object.entries(after.dropped))
    d[k] = x - (before.dropped[k as keyof SleeveCounters["dropped"]] ?? 0);
  return Object.fromEntries(Object.entries(d).filter(([k, x]) => x !== 0 && k !== "not-ipv4"));
}

async function countersDelta(dp: SleeveDatapath, fn: () => void | Promise<void>) {
  const before = await dp.counters();
  await fn();
  await new Promise((r) => setTimeout(r, 200));
  const after = await dp.counters();
  assert.ok(before && after, "the helper runs and answers stats");
  return delta(before, after);
}

const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  assert.ok(x !== undefined);
  return x;
};

test(`sleeve on an l2 underlay: pods ping across nodes inside UDP ${SLEEVE_DEFAULT_PORT} (seen on the switch), DF at exactly the sleeve MTU (${MTU}) passes and one byte more is refused`, async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: MTU });
    const dps = await bringUp(topo);
    try {
      const [n1, n2] = [at(topo.nodes, 0), at(topo.nodes, 1)];
      let result = { sent: 0, received: 0, out: "" };
      const captured = await captureWhile(
        topo.underlayNs,
        topo.captureDev,
        `udp port ${SLEEVE_DEFAULT_PORT}`,
        2,
        async () => {
          result = ping(n1.podNs, n2.podIp, ["-c", "3", "-i", "0.2"]);
        },
      );
      assert.equal(result.received, 3, result.out);
      assert.match(
        captured,
        new RegExp(
          `${n1.ip.replace(/\./g, "\\.")}\\.\\d+ > ${n2.ip.replace(/\./g, "\\.")}\\.${SLEEVE_DEFAULT_PORT}: UDP, length 92`,
        ),
      );
      // The largest packet a pod may send with DF: an ICMP payload of MTU − 28, outer exactly 1500.
      const full = ping(n1.podNs, n2.podIp, ["-c", "2", "-i", "0.2", "-M", "do", "-s", String(MTU - 28)]);
      assert.equal(full.received, 2, full.out);
      const over = ping(n1.podNs, n2.podIp, ["-c", "1", "-M", "do", "-s", String(MTU - 27)]);
      assert.equal(over.received, 0);
      assert.match(over.out, new RegExp(`mtu[ =]${MTU}|message too long`), over.out);
      // The node itself reaches the remote pod too (source: its /32 on the TUN, inside its pod CIDR).
      assert.equal(ping(n1.ns, n2.podIp, ["-c", "1"]).received, 1);
    } finally {
      await stopAll(dps);
    }
  });
});

test("sleeve across an l3 router: pods on different subnets ping each other, and a TCP transfer passes with nothing dropped", async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l3", podMtu: MTU });
    const dps = await bringUp(topo);
    try {
      const [n1, n2] = [at(topo.nodes, 0), at(topo.nodes, 1)];
      const r = ping(n1.podNs, n2.podIp, ["-c", "3", "-i", "0.2", "-M", "do", "-s", String(MTU - 28)]);
      assert.equal(r.received, 3, r.out);
      // A short TCP transfer: delivered, and no drop on the receiving helper.
      const dp2 = dps.get(n2);
      assert.ok(dp2);
      const d = await countersDelta(dp2, () => {
        sh(n2.podNs, ["sh", "-c", "iperf3 -s -1 -D -p 5301 >/dev/null; sleep 0.3"]);
        sh(n1.podNs, ["iperf3", "-c", n2.podIp, "-p", "5301", "-n", "20M"]);
      });
      assert.ok((d.decapsulated ?? 0) > 0, JSON.stringify(d));
      for (const reason of [
        "unknown-outer-source",
        "inner-source-not-in-peer-cidr",
        "malformed",
        "reassembly",
      ])
        assert.equal(d[reason] ?? 0, 0, `${reason}: ${JSON.stringify(d)}`);
    } finally {
      await stopAll(dps);
    }
  });
});

test("decapsulation checks the sender: an unknown outer source, a spoofed inner source and an inner destination outside the node's pods are dropped and counted exactly; a peer's own packets are delivered", async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 3, underlay: "l2", podMtu: MTU });
    const dps = await bringUp(topo);
    try {
      const [n1, n2, n3] = [at(topo.nodes, 0), at(topo.nodes, 1), at(topo.nodes, 2)];
      const dp2 = dps.get(n2);
      assert.ok(dp2);
      // A stranger on the underlay, with a perfectly formed packet for n2's pod.
      const stranger = await countersDelta(dp2, () =>
        sendSleeve(topo.attacker.ns, {
          from: topo.attacker.ip,
          to: n2.ip,
          count: 5,
          innerSrc: n1.podIp,
          innerDst: n2.podIp,
        }),
      );
      assert.deepEqual(stranger, { "unknown-outer-source": 5 });
      // n1 (a known node) claiming a source in n3's pod subnet.
      const spoofed = await countersDelta(dp2, () =>
        sendSleeve(n1.ns, { from: n1.ip, to: n2.ip, count: 4, innerSrc: n3.podIp, innerDst: n2.podIp }),
      );
      assert.deepEqual(spoofed, { "inner-source-not-in-peer-cidr": 4 });
      // n1 sending n2 a packet for n3's pods: n2 is no relay.
      const relay = await countersDelta(dp2, () =>
        sendSleeve(n1.ns, { from: n1.ip, to: n2.ip, count: 3, innerSrc: n1.podIp, innerDst: n3.podIp }),
      );
      assert.deepEqual(relay, { "inner-destination-not-local": 3 });
      // The same crafted packet with n1's own pod source is delivered (and n2's pod answers).
      const ok = await countersDelta(dp2, () =>
        sendSleeve(n1.ns, { from: n1.ip, to: n2.ip, count: 2, innerSrc: n1.podIp, innerDst: n2.podIp }),
      );
      assert.equal(ok.decapsulated, 2, JSON.stringify(ok));
    } finally {
      await stopAll(dps);
    }
  });
});

test("a peer leaving and joining: the helper's table changes by diff, a removed peer is unreachable (counted no-peer) and reachable again when it is back", async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 3, underlay: "l2", podMtu: MTU });
    const dps = await bringUp(topo);
    try {
      const [n1, n2, n3] = [at(topo.nodes, 0), at(topo.nodes, 1), at(topo.nodes, 2)];
      const dp1 = dps.get(n1);
      assert.ok(dp1);
      assert.equal(ping(n1.podNs, n3.podIp, ["-c", "1"]).received, 1);
      assert.deepEqual(await dp1.syncPeers(peersOf(n1, [n1, n2])), { added: 0, removed: 1, changed: 0 });
      const gone = await countersDelta(dp1, () => {
        assert.equal(ping(n1.podNs, n3.podIp, ["-c", "2", "-i", "0.2"]).received, 0);
      });
      assert.equal(gone["no-peer"], 2, JSON.stringify(gone));
      assert.equal(ping(n1.podNs, n2.podIp, ["-c", "1"]).received, 1, "the other peer is untouched");
      assert.deepEqual(await dp1.syncPeers(peersOf(n1, topo.nodes)), { added: 1, removed: 0, changed: 0 });
      assert.deepEqual(await dp1.syncPeers(peersOf(n1, topo.nodes)), { added: 0, removed: 0, changed: 0 });
      assert.equal(ping(n1.podNs, n3.podIp, ["-c", "1"]).received, 1);
    } finally {
      await stopAll(dps);
    }
  });
});

test("the helper killed with SIGKILL is started again with its whole peer table, and traffic returns", async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: MTU });
    const dps = await bringUp(topo);
    try {
      const [n1, n2] = [at(topo.nodes, 0), at(topo.nodes, 1)];
      const dp1 = dps.get(n1);
      assert.ok(dp1);
      const pid = dp1.status().pid;
      assert.ok(pid);
      process.kill(pid, "SIGKILL");
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (dp1.status().pid === pid || !dp1.status().running))
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(dp1.status().restarts, 1);
      assert.notEqual(dp1.status().pid, pid);
      assert.match(dp1.status().lastExit ?? "", /SIGKILL/);
      await new Promise((r) => setTimeout(r, 200)); // the table is pushed right after the start
      assert.equal(ping(n1.podNs, n2.podIp, ["-c", "2", "-i", "0.2"]).received, 2);
    } finally {
      await stopAll(dps);
    }
  });
});

test("without offloads (one packet per read, no UDP GSO/GRO) the same traffic passes: the helper's slow path", async () => {
  await withTunnelNamespaces("slv", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: MTU });
    const dps = await bringUp(topo, { offload: false, udpGso: false, udpGro: false, batch: 1 });
    try {
      const [n1, n2] = [at(topo.nodes, 0), at(topo.nodes, 1)];
      assert.deepEqual(dps.get(n1)?.status().features, {
        offload: false,
        udpGso: false,
        udpGro: false,
        batch: 1,
      });
      const r = ping(n1.podNs, n2.podIp, ["-c", "2", "-i", "0.2", "-M", "do", "-s", String(MTU - 28)]);
      assert.equal(r.received, 2, r.out);
      sh(n2.podNs, ["sh", "-c", "iperf3 -s -1 -D -p 5302 >/dev/null; sleep 0.3"]);
      const out = sh(n1.podNs, ["iperf3", "-c", n2.podIp, "-p", "5302", "-n", "5M"]);
      assert.match(out, /receiver/);
    } finally {
      await stopAll(dps);
    }
  });
});
