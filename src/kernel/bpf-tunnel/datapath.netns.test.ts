import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import {
  buildTunnelTopology,
  captureWhile,
  routePodsThrough,
  sh,
  type TopologyNode,
  type TunnelTopology,
  withTunnelNamespaces,
} from "../../../test/support/bpf-tunnel-topology.js";
import { namedNetns } from "../api.js";
import { createIproute2Kernel } from "../iproute2/index.js";
import {
  type BpfTunnelConfig,
  type BpfTunnelDatapath,
  builtTunnelObjectPath,
  createBpfTunnelDatapath,
  type TunnelPeer,
  tunnelOverhead,
} from "./api.js";
import { parseMapDump } from "./map-codec.js";
import { decodePeerMaps } from "./peer-maps-plan.js";
import { pinDir } from "./pin-paths.js";

const kernel = createIproute2Kernel();
const datapath = () => createBpfTunnelDatapath({ objectPath: builtTunnelObjectPath, kernel });
const UNDERLAY_MTU = 1500;

type Variant = { proto: "ipip" | "gre"; greKey?: number };
const configFor = (n: TopologyNode, v: Variant): BpfTunnelConfig => ({
  proto: v.proto,
  ...(v.greKey !== undefined ? { greKey: v.greKey } : {}),
  tunnelDev: `strata.${v.proto}`,
  underlayDev: "eth0",
  localIp: n.ip,
  mtu: UNDERLAY_MTU - tunnelOverhead(v.proto, v.greKey),
});
const peersOf = (topo: TunnelTopology, n: TopologyNode, among = topo.nodes): TunnelPeer[] =>
  among.filter((o) => o !== n).map((o) => ({ node: o.name, nodeIp: o.ip, podCidr: o.podCidr }));

/** ensure + syncPeers on every node, and the pod routes into the tunnel device. */
async function bringUp(dp: BpfTunnelDatapath, topo: TunnelTopology, v: Variant): Promise<void> {
  for (const n of topo.nodes) {
    await dp.ensure(namedNetns(n.ns), configFor(n, v));
    await dp.syncPeers(namedNetns(n.ns), configFor(n, v), peersOf(topo, n));
  }
  routePodsThrough(topo, `strata.${v.proto}`);
}

/** ping's summary: packets sent and received (ping exits 1 when some are lost: not an exception here). */
function ping(ns: string, dst: string, args: string[] = []): { sent: number; received: number; out: string } {
  let out: string;
  try {
    out = execFileSync("ip", ["netns", "exec", ns, "ping", "-n", "-W", "1", ...args, dst], {
      encoding: "utf8",
    });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? "");
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out };
}

/**
 * Hand-made tunnel packets from the attacker's raw socket (IP_HDRINCL: any outer source):
 * outer IPv4 with protocol 4, or 47 with a GRE header (key when given), around an ICMP echo.
 */
const SEND_RAW = `
import socket, struct, sys
osrc, odst, proto, count, isrc, idst, key, flags = sys.argv[1:9]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def iphdr(src, dst, proto, payload_len):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x5354, 1) + b"strata-bpf-tunnel-test!!"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
inner = iphdr(isrc, idst, 1, len(icmp)) + icmp
if int(proto) == 47:
    gflags = int(flags, 0) | (0x2000 if key != "-" else 0)
    inner = struct.pack("!HH", gflags, 0x0800) + (struct.pack("!I", int(key)) if key != "-" else b"") + inner
packet = iphdr(osrc, odst, int(proto), len(inner)) + inner
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(int(count)):
    s.sendto(packet, (odst, 0))
`;
function sendRaw(
  topo: TunnelTopology,
  p: { outerSrc: string; outerDst: string; proto: 4 | 47; count: number; innerSrc: string; innerDst: string },
  gre: { key?: number; flags?: number } = {},
): void {
  sh(topo.attacker.ns, [
    ...["python3", "-c", SEND_RAW, p.outerSrc, p.outerDst, String(p.proto), String(p.count)],
    ...[p.innerSrc, p.innerDst, gre.key === undefined ? "-" : String(gre.key), String(gre.flags ?? 0)],
  ]);
}

async function countersDelta(
  dp: BpfTunnelDatapath,
  n: TopologyNode,
  v: Variant,
  fn: () => Promise<void> | void,
): Promise<Record<string, number>> {
  const before = await dp.counters(namedNetns(n.ns), configFor(n, v));
  await fn();
  // The counters are read after the packets have crossed (veth delivery is synchronous per CPU,
  // but give the softirq a moment).
  await new Promise((r) => setTimeout(r, 200));
  const after = await dp.counters(namedNetns(n.ns), configFor(n, v));
  const delta: Record<string, number> = {
    encapsulated: after.encapsulated - before.encapsulated,
    decapsulated: after.decapsulated - before.decapsulated,
  };
  for (const [k, x] of Object.entries(after.dropped)) delta[k] = x - (before.dropped[k] ?? 0);
  return delta;
}

const nonZero = (d: Record<string, number>) =>
  Object.fromEntries(Object.entries(d).filter(([, x]) => x !== 0));

for (const v of [{ proto: "ipip" }, { proto: "gre" }, { proto: "gre", greKey: 42 }] as Variant[]) {
  const label = v.proto === "ipip" ? "IPIP" : v.greKey === undefined ? "GRE" : "GRE with a key";
  const mtu = UNDERLAY_MTU - tunnelOverhead(v.proto, v.greKey);
  test(`${label} on an l2 underlay: pods ping across nodes, the switch sees the standard encapsulation, DF at exactly the tunnel MTU (${mtu}) passes and one byte more gets frag-needed`, async () => {
    await withTunnelNamespaces("bpft", async (t) => {
      const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: UNDERLAY_MTU });
      const dp = datapath();
      await bringUp(dp, topo, v);
      const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];

      let result = { sent: 0, received: 0, out: "" };
      const filter = v.proto === "ipip" ? "ip proto 4" : "ip proto 47";
      const captured = await captureWhile(topo.underlayNs, topo.captureDev, filter, 2, async () => {
        result = ping(n1.podNs, n2.podIp, ["-c", "3", "-i", "0.2"]);
      });
      assert.equal(result.received, 3, result.out);
      assert.match(
        captured,
        new RegExp(`${n1.ip.replaceAll(".", "\\.")} > ${n2.ip.replaceAll(".", "\\.")}:`),
      );
      assert.match(
        captured,
        new RegExp(
          `${n1.podIp.replaceAll(".", "\\.")} > ${n2.podIp.replaceAll(".", "\\.")}: ICMP echo request`,
        ),
      );
      if (v.proto === "ipip") assert.match(captured, /proto IPIP \(4\)/);
      else assert.match(captured, /GREv0/);
      if (v.greKey !== undefined) assert.match(captured, /key=0x2a/);

      const d = await countersDelta(dp, n2, v, () => {
        const r = ping(n1.podNs, n2.podIp, ["-c", "2", "-i", "0.2", "-M", "do", "-s", String(mtu - 28)]);
        assert.equal(r.received, 2, `a DF packet of exactly ${mtu} B crosses: ${r.out}`);
      });
      assert.deepEqual(
        nonZero(d),
        { encapsulated: 2, decapsulated: 2 },
        "n2 decapsulated both requests, encapsulated both replies",
      );

      const over = ping(n1.podNs, n2.podIp, ["-c", "1", "-M", "do", "-s", String(mtu - 27)]);
      assert.equal(over.received, 0);
      assert.match(
        over.out,
        new RegExp(`(Frag needed and DF set \\(mtu = ${mtu}\\)|message too long, mtu=${mtu})`),
        over.out,
      );
    });
  });
}

test("IPIP across an l3 router: the outer packet is routed (redirect_neigh resolves the router as next hop)", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l3", podMtu: 1480 });
    await bringUp(datapath(), topo, { proto: "ipip" });
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    assert.notEqual(n1.ip.split(".")[2], n2.ip.split(".")[2], "the nodes are on different subnets");
    let r = { sent: 0, received: 0, out: "" };
    const captured = await captureWhile(topo.underlayNs, topo.captureDev, "ip proto 4", 2, async () => {
      r = ping(n1.podNs, n2.podIp, ["-c", "3", "-i", "0.2"]);
    });
    assert.equal(r.received, 3, r.out);
    assert.match(captured, /proto IPIP \(4\)/);
    assert.match(captured, /192\.168\.10\.11 > 192\.168\.20\.12:/);
  });
});

test("decapsulation checks the sender: a non-node outer source and a spoofed inner source are dropped and counted exactly; a node's own packets (pod or node source) are decapsulated", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: 1480 });
    const dp = datapath();
    const v: Variant = { proto: "ipip" };
    await bringUp(dp, topo, v);
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const base = { outerDst: n2.ip, proto: 4 as const, innerDst: n2.podIp };

    const unknown = await countersDelta(dp, n2, v, () =>
      sendRaw(topo, { ...base, outerSrc: topo.attacker.ip, innerSrc: "10.244.1.2", count: 5 }),
    );
    assert.deepEqual(nonZero(unknown), { "unknown-outer-source": 5 });

    // The attacker forges n1's underlay address, but its inner source is no pod of n1's.
    const spoofed = await countersDelta(dp, n2, v, () =>
      sendRaw(topo, { ...base, outerSrc: n1.ip, innerSrc: "10.9.9.9", count: 7 }),
    );
    assert.deepEqual(nonZero(spoofed), { "inner-source-not-in-peer-cidr": 7 });

    // Control: the same hand-made packet with an inner source in n1's pod CIDR is accepted (the
    // pod answers, so n2 also encapsulates the replies): the checks above dropped for their reason.
    const good = await countersDelta(dp, n2, v, () =>
      sendRaw(topo, { ...base, outerSrc: n1.ip, innerSrc: "10.244.1.2", count: 3 }),
    );
    assert.deepEqual(nonZero(good), { decapsulated: 3, encapsulated: 3 });
    // A node's own address as inner source (a node answering a pod through the tunnel) is fine.
    const fromNode = await countersDelta(dp, n2, v, () =>
      sendRaw(topo, { ...base, outerSrc: n1.ip, innerSrc: n1.ip, count: 2 }),
    );
    // (The pod's echo replies go to n1's underlay address straight over eth0: nothing encapsulated.)
    assert.deepEqual(nonZero(fromNode), { decapsulated: 2 });
  });
});

test("GRE decapsulation drops a wrong key, a missing key and unexpected flags (counted as gre-key-or-flags)", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: 1472 });
    const dp = datapath();
    const v: Variant = { proto: "gre", greKey: 42 };
    await bringUp(dp, topo, v);
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const base = {
      outerSrc: n1.ip,
      outerDst: n2.ip,
      proto: 47 as const,
      innerSrc: "10.244.1.2",
      innerDst: n2.podIp,
    };
    const d = await countersDelta(dp, n2, v, () => {
      sendRaw(topo, { ...base, count: 2 }, { key: 43 });
      sendRaw(topo, { ...base, count: 3 }, {});
      sendRaw(topo, { ...base, count: 1 }, { key: 42, flags: 0x1000 }); // sequence bit: never sent by peers
    });
    assert.deepEqual(nonZero(d), { "gre-key-or-flags": 6 });
    const ok = await countersDelta(dp, n2, v, () => sendRaw(topo, { ...base, count: 2 }, { key: 42 }));
    assert.equal(ok.decapsulated, 2);
  });
});

/** Both peer maps of a node, read back with bpftool and decoded, for "nothing stale" checks. */
function mapsOf(n: TopologyNode, v: Variant): { cidrs: [string, string][]; nodes: [string, string][] } {
  const dir = pinDir(n.ns, `strata.${v.proto}`);
  const dump = (m: string) =>
    parseMapDump(
      execFileSync("bpftool", ["-j", "map", "dump", "pinned", `${dir}/${m}`], { encoding: "utf8" }),
    );
  const state = decodePeerMaps(dump("peer_cidrs"), dump("peer_nodes"));
  return { cidrs: [...state.cidrs].sort(), nodes: [...state.nodes].sort() };
}

test("a node leaving and joining: maps change by diff, nothing stale stays, it is unreachable when gone and reachable when back", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 3, underlay: "l2", podMtu: 1480 });
    const dp = datapath();
    const v: Variant = { proto: "ipip" };
    await bringUp(dp, topo, v);
    const [n1, n2, n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    const ns1 = namedNetns(n1.ns);
    assert.equal(ping(n1.podNs, n3.podIp, ["-c", "1"]).received, 1);
    assert.deepEqual(await dp.syncPeers(ns1, configFor(n1, v), peersOf(topo, n1)), {
      added: 0,
      removed: 0,
      changed: 0,
    });

    // n3 leaves n1's view.
    assert.deepEqual(await dp.syncPeers(ns1, configFor(n1, v), peersOf(topo, n1, [n1, n2])), {
      added: 0,
      removed: 1,
      changed: 0,
    });
    assert.deepEqual(
      mapsOf(n1, v),
      {
        cidrs: [[n2.podCidr, n2.ip]],
        nodes: [[n2.ip, n2.podCidr]],
      },
      "n2's entries only: nothing of n3 stays",
    );
    const gone = await countersDelta(dp, n1, v, () => {
      assert.equal(ping(n1.podNs, n3.podIp, ["-c", "2", "-i", "0.2"]).received, 0);
    });
    assert.deepEqual(nonZero(gone), { "no-peer": 2 }, "dropped at n1's egress, never sent unencapsulated");
    assert.equal(ping(n1.podNs, n2.podIp, ["-c", "1"]).received, 1, "n2 is still reachable");

    // n3 joins again.
    assert.deepEqual(await dp.syncPeers(ns1, configFor(n1, v), peersOf(topo, n1)), {
      added: 1,
      removed: 0,
      changed: 0,
    });
    assert.deepEqual(mapsOf(n1, v), {
      cidrs: [
        [n2.podCidr, n2.ip],
        [n3.podCidr, n3.ip],
      ],
      nodes: [
        [n2.ip, n2.podCidr],
        [n3.ip, n3.podCidr],
      ],
    });
    assert.equal(ping(n1.podNs, n3.podIp, ["-c", "1"]).received, 1);
  });
});

test("agent restart: ensure and syncPeers from a fresh datapath while a ping runs lose nothing and keep the same programs and maps", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: 1480 });
    const v: Variant = { proto: "ipip" };
    await bringUp(datapath(), topo, v);
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const ids = (n: TopologyNode) =>
      ["tunnel_egress", "tunnel_ingress", "config", "peer_cidrs"].map(
        (p) =>
          (
            JSON.parse(
              execFileSync(
                "bpftool",
                [
                  "-j",
                  p.startsWith("tunnel") ? "prog" : "map",
                  "show",
                  "pinned",
                  `${pinDir(n.ns, "strata.ipip")}/${p}`,
                ],
                {
                  encoding: "utf8",
                },
              ),
            ) as { id: number }
          ).id,
      );
    const filterProg = (n: TopologyNode) => sh(n.ns, ["tc", "filter", "show", "dev", "eth0", "ingress"]);
    const before = [ids(n1), ids(n2), filterProg(n1), filterProg(n2)];

    const pinger = spawn("ip", [
      "netns",
      "exec",
      n1.podNs,
      "ping",
      "-n",
      "-i",
      "0.01",
      "-c",
      "300",
      n2.podIp,
    ]);
    let out = "";
    pinger.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const done = new Promise<number>((resolve) => pinger.on("close", (code) => resolve(code ?? 1)));
    await new Promise((r) => setTimeout(r, 300));
    for (let round = 0; round < 3; round++) {
      const fresh = datapath(); // a restarted agent: no memory of what the last one did
      for (const n of topo.nodes) {
        await fresh.ensure(namedNetns(n.ns), configFor(n, v));
        assert.deepEqual(await fresh.syncPeers(namedNetns(n.ns), configFor(n, v), peersOf(topo, n)), {
          added: 0,
          removed: 0,
          changed: 0,
        });
      }
    }
    assert.equal(await done, 0, out.slice(-300));
    assert.match(out, /300 packets transmitted, 300 received, 0% packet loss/);
    assert.deepEqual(
      [ids(n1), ids(n2), filterProg(n1), filterProg(n2)],
      before,
      "same programs, maps and filters",
    );
  });
});

test("remove detaches and unpins everything of the config; ensure afterwards sets it all up again", async () => {
  await withTunnelNamespaces("bpft", async (t) => {
    const topo = buildTunnelTopology(t, { nodes: 2, underlay: "l2", podMtu: 1480 });
    const dp = datapath();
    const v: Variant = { proto: "ipip" };
    await bringUp(dp, topo, v);
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const dir = pinDir(n1.ns, "strata.ipip");
    assert.ok(existsSync(`${dir}/tunnel_ingress`));
    await dp.remove(namedNetns(n1.ns), configFor(n1, v));
    assert.equal(existsSync(dir), false, "pins gone");
    assert.equal(existsSync(dir.slice(0, dir.lastIndexOf("/"))), false, "the namespace's pin directory too");
    assert.equal(
      sh(n1.ns, ["tc", "filter", "show", "dev", "eth0", "ingress"]).trim(),
      "",
      "no filter left on eth0",
    );
    assert.doesNotMatch(sh(n1.ns, ["tc", "qdisc", "show", "dev", "eth0"]), /clsact/);
    assert.equal(await kernel.link(namedNetns(n1.ns), "strata.ipip"), undefined, "tunnel device gone");
    await dp.remove(namedNetns(n1.ns), configFor(n1, v)); // idempotent

    await dp.ensure(namedNetns(n1.ns), configFor(n1, v));
    assert.deepEqual(await dp.syncPeers(namedNetns(n1.ns), configFor(n1, v), peersOf(topo, n1)), {
      added: 1,
      removed: 0,
      changed: 0,
    });
    routePodsThrough(topo, "strata.ipip");
    assert.equal(ping(n1.podNs, n2.podIp, ["-c", "1"]).received, 1);
  });
});
