import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { getInNetns } from "../../../test/support/agent-http.js";
import { CniSandbox, repoRoot } from "../../../test/support/cni.js";
import { inNetns, TestNamespaces } from "../../../test/support/netns.js";
import { masqueradeRuleset } from "../../agent/masquerade.js";
import {
  addNetworkList,
  type ConfList,
  checkNetworkList,
  delNetworkList,
  gcNetworkList,
  type RuntimeOptions,
} from "../../cni/runtime-client.js";
import { eventually } from "../../common/eventually.js";
import { parseGuardTable, type SpoofCounts } from "./source-guard-plan.js";

/**
 * Replays the issue's attack: a pod with CAP_NET_RAW (root in its namespace) sends raw UDP with a
 * forged source address to a pod on another node and to an address outside the cluster.
 *
 *   pod a (attacker) ─┐                                          ┌─ pod c (receiver)
 *   pod b (neighbour) ┴ node n1 ── 192.168.91.0/24 underlay ── node n2
 *                         └── 203.0.113.0/24 ── "outside" 203.0.113.10 (n1's default route)
 *
 * n1 masquerades traffic leaving 10.72.0.0/16 (as the agent does). Receivers count arrivals per
 * UDP destination port in a dynamic nft set, so every (source, destination) case has its own port
 * and masquerade cannot hide which case arrived.
 */

const sendRaw = `
import socket, struct, sys
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
payload = b"strata-spoof-test"
udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL implied
for _ in range(count):
    s.sendto(ip + udp, (dst, 0))
`;

const sendRaw6 = `
import socket, struct, sys
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
payload = b"strata-spoof-test"
S, D = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
n = 8 + len(payload)
def csum(b):
    b += b"\\0" * (len(b) % 2)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF
c = csum(S + D + struct.pack("!I3xB", n, 17) + struct.pack("!HHHH", 40000, dport, n, 0) + payload) or 0xFFFF
pkt = struct.pack("!IHBB", 6 << 28, n, 17, 64) + S + D + struct.pack("!HHHH", 40000, dport, n, c) + payload
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)  # header included
for _ in range(count):
    s.sendto(pkt, (dst, 0))
`;

const receiverRuleset = `
table inet strata-test-rx {
  set seen { type inet_service; flags dynamic; }
  chain prerouting {
    type filter hook prerouting priority -400; policy accept;
    udp dport 41000-41999 add @seen { udp dport }
  }
}
`;

function sh(ns: string, ...argv: string[]): void {
  execFileSync("ip", ["-n", ns, ...argv]);
}

function nftIn(ns: string, script: string): void {
  execFileSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: script });
}

/** UDP destination ports that reached `ns` (its prerouting) since the receiver table was made. */
function arrivedPorts(ns: string): Set<number> {
  const out = JSON.parse(inNetns(ns, ["nft", "-j", "list", "set", "inet", "strata-test-rx", "seen"])) as {
    nftables: { set?: { elem?: number[] } }[];
  };
  return new Set(out.nftables.flatMap((x) => x.set?.elem ?? []));
}

function spoofCounts(ns: string): SpoofCounts {
  return parseGuardTable(inNetns(ns, ["nft", "-j", "list", "counters"])).counts;
}

interface Topology {
  readonly n1: string;
  readonly n2: string;
  readonly out: string;
}

function makeTopology(nss: TestNamespaces): Topology {
  const n1 = nss.create("n1");
  const n2 = nss.create("n2");
  const out = nss.create("out");
  sh(n1, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", n2);
  sh(n1, "link", "add", "up0", "type", "veth", "peer", "name", "o0", "netns", out);
  sh(n1, "addr", "add", "192.168.91.1/24", "dev", "eth0");
  sh(n2, "addr", "add", "192.168.91.2/24", "dev", "eth0");
  sh(n1, "addr", "add", "203.0.113.1/24", "dev", "up0");
  sh(out, "addr", "add", "203.0.113.10/24", "dev", "o0");
  for (const [ns, dev] of [
    [n1, "eth0"],
    [n2, "eth0"],
    [n1, "up0"],
    [out, "o0"],
  ] as const)
    sh(ns, "link", "set", dev, "up");
  sh(n1, "route", "add", "default", "via", "203.0.113.10");
  sh(n1, "route", "add", "10.72.2.0/24", "via", "192.168.91.2");
  sh(n2, "route", "add", "default", "via", "192.168.91.1");
  sh(n2, "route", "add", "10.72.1.0/24", "via", "192.168.91.1");
  for (const ns of [n1, n2]) {
    inNetns(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    nftIn(ns, masqueradeRuleset("10.72.0.0/16"));
  }
  for (const ns of [out]) nftIn(ns, receiverRuleset);
  return { n1, n2, out };
}

const conf = (
  sandbox: CniSandbox,
  mode: "bridge" | "routed",
  subnet: string,
  antiSpoofing = true,
): ConfList => ({
  cniVersion: "1.1.0",
  name: `t-spoof-${mode}-${subnet.split(".")[2]}`,
  plugins: [
    {
      type: "strata",
      mode,
      antiSpoofing,
      ipam: { type: "strata-ipam", ranges: [[{ subnet }]], dataDir: sandbox.data },
    },
  ],
});

function startAgent(ns: string, healthPort: number): Promise<ChildProcess> {
  const proc = spawn(
    "ip",
    [
      "netns",
      "exec",
      ns,
      process.execPath,
      join(repoRoot, "bin/strata.js"),
      "agent",
      "--health-port",
      String(healthPort),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      // The agent writes the guard over nf_tables netlink (the addon is built with the tests).
      if (d.includes("agent serving CNI requests"))
        if (d.includes('"sourceGuardWrites":"netlink"')) resolve(proc);
        else reject(new Error(`the agent does not write the guard over netlink: ${d}`));
    });
    proc.once("exit", (code) => reject(new Error(`agent exited early with ${code}`)));
  });
}

const addrOf = (r: unknown) =>
  ((r as { ips: { address: string }[] }).ips[0]?.address ?? "").split("/")[0] as string;

describe("anti-spoofing: a pod sends only from its own addresses", () => {
  const sandbox = new CniSandbox();
  const agents: ChildProcess[] = [];
  before(async () => {
    await sandbox.install();
  });
  after(() => {
    for (const a of agents) a.kill("SIGKILL");
    sandbox.cleanup();
  });

  // In the agent the guard's nftables writes go over nf_tables netlink (no nft process); standalone
  // they go through `nft -f`. Both modes (bridge and inet tables) run through the agent.
  for (const [mode, viaAgent] of [
    ["bridge", true],
    ["routed", false],
    ["routed", true],
  ] as const) {
    test(`${mode} mode${viaAgent ? " (agent)" : " (standalone)"}: spoofed sources never reach a pod on another node or the outside; own source does; drops are counted`, async () => {
      const nss = new TestNamespaces(`spoof${mode[0]}`);
      try {
        const { n1, n2, out } = makeTopology(nss);
        const healthPort = 19_947;
        let rt1: RuntimeOptions = sandbox.runtime(n1, { STRATA_NO_AGENT: "1" });
        if (viaAgent) {
          agents.push(await startAgent(n1, healthPort));
          rt1 = sandbox.runtime(n1);
        }
        const rt2 = sandbox.runtime(n2, { STRATA_NO_AGENT: "1" });
        const l1 = conf(sandbox, mode, "10.72.1.0/24");
        const l2 = conf(sandbox, mode, "10.72.2.0/24");
        const pod = (ns: string, label: string) => ({
          containerId: `c-${mode}${viaAgent ? "-agent" : ""}-${label}`,
          netns: nss.path(ns),
          ifName: "eth0",
        });
        const [a, b, c] = [nss.create("a"), nss.create("b"), nss.create("c")];
        const ra = await addNetworkList(l1, pod(a, "a"), rt1);
        const rb = await addNetworkList(l1, pod(b, "b"), rt1);
        const rc = await addNetworkList(l2, pod(c, "c"), rt2);
        nftIn(c, receiverRuleset);
        const [ipA, ipB, ipC] = [addrOf(ra), addrOf(rb), addrOf(rc)];

        // The legitimate path first (also warms ARP/proxy ARP): a's own source reaches c and outside.
        let port = 41_000;
        const cases: { src: string; dst: string; dstNs: string; port: number; spoofed: boolean }[] = [];
        for (const [dst, dstNs] of [
          [ipC, c],
          ["203.0.113.10", out],
        ] as const) {
          for (const [src, spoofed] of [
            [ipA, false],
            [ipB, true], // the neighbour pod's address
            ["192.168.91.2", true], // another node's address
            ["8.8.8.8", true],
          ] as const)
            cases.push({ src, dst, dstNs, port: port++, spoofed });
        }
        const before = spoofCounts(n1);
        const perCase = 3;
        for (const k of cases) {
          inNetns(a, ["python3", "-c", sendRaw, k.src, k.dst, String(k.port), String(perCase)]);
        }
        // Own-source packets arrive (retrying covers the first packet's neighbour resolution).
        await eventually(() => {
          for (const k of cases.filter((x) => !x.spoofed)) {
            if (!arrivedPorts(k.dstNs).has(k.port)) {
              inNetns(a, ["python3", "-c", sendRaw, k.src, k.dst, String(k.port), "1"]);
              return false;
            }
          }
          return true;
        }, "own-source packets to arrive");
        for (const k of cases.filter((x) => x.spoofed)) {
          assert.ok(!arrivedPorts(k.dstNs).has(k.port), `spoofed ${k.src} -> ${k.dst} must not arrive`);
        }
        const after = spoofCounts(n1);
        const spoofedSent = cases.filter((x) => x.spoofed).length * perCase;
        assert.equal(after.ipv4 - before.ipv4, spoofedSent, "every spoofed packet was counted once");

        if (viaAgent) {
          const metrics = getInNetns(n1, "/metrics", healthPort).text;
          const m = /strata_spoofed_packets_dropped_total\{family="ipv4"\} (\d+)/.exec(metrics);
          assert.ok(m, `metric present in /metrics:\n${metrics}`);
          assert.equal(Number(m[1]), after.ipv4, "/metrics shows the kernel's count");
        }
        if (viaAgent && mode === "bridge") {
          // ARP spoofing (bridge mode): a claims b's address as ARP sender; dropped and counted.
          const arpBefore = spoofCounts(n1).arp;
          inNetns(a, ["python3", "-c", sendArp, "eth0", ipB, "10.72.1.1"]);
          assert.equal(spoofCounts(n1).arp - arpBefore, 1, "the forged ARP was dropped");
        }

        // DEL removes the pod's elements (and a second DEL finds nothing and succeeds).
        await delNetworkList(l1, pod(a, "a"), rt1, ra);
        await delNetworkList(l1, pod(a, "a"), rt1);
        const family = mode === "bridge" ? "bridge" : "inet";
        // (In the agent the elements go right after the veth, once DEL has answered.)
        await eventually(() => {
          const table = parseGuardTable(
            inNetns(n1, ["nft", "-j", "list", "table", family, "strata-antispoof"]),
          );
          return ![...table.sources.values()].some((s) => s.v4.includes(ipA)) && table.ports.size === 1;
        }, "a's port and address to leave the guard table (b's stay)");
        await delNetworkList(l1, pod(b, "b"), rt1, rb);
        await delNetworkList(l2, pod(c, "c"), rt2, rc);
      } finally {
        for (const p of agents.splice(0)) p.kill("SIGTERM");
        nss.cleanup();
      }
    });
  }

  for (const [mode, viaAgent] of [
    ["bridge", false],
    ["routed", false],
    ["bridge", true],
    ["routed", true],
  ] as const) {
    test(`${mode} mode${viaAgent ? " (agent)" : ""}, dual stack: spoofed IPv6 sources are dropped and counted; own source (and NDP) work`, async () => {
      const nss = new TestNamespaces(`spoof6${mode[0]}`);
      try {
        const { n1 } = makeTopology(nss);
        if (viaAgent) agents.push(await startAgent(n1, 19_948));
        const rt = viaAgent ? sandbox.runtime(n1) : sandbox.runtime(n1, { STRATA_NO_AGENT: "1" });
        const l: ConfList = {
          cniVersion: "1.1.0",
          name: `t-spoof6-${mode}${viaAgent ? "-agent" : ""}`,
          plugins: [
            {
              type: "strata",
              mode,
              ipam: {
                type: "strata-ipam",
                ranges: [[{ subnet: "10.73.1.0/24" }], [{ subnet: "fd73:1::/64" }]],
                dataDir: sandbox.data,
              },
            },
          ],
        };
        const [a, b] = [nss.create("a"), nss.create("b")];
        const att = (ns: string, id: string) => ({ containerId: id, netns: nss.path(ns), ifName: "eth0" });
        const v6Of = (r: unknown) =>
          (
            (r as { ips: { address: string }[] }).ips.find((ip) => ip.address.includes(":"))?.address ?? ""
          ).split("/")[0] as string;
        const id = `${mode}${viaAgent ? "-agent" : ""}`;
        const ra = await addNetworkList(l, att(a, `c-6${id}-a`), rt);
        const rb = await addNetworkList(l, att(b, `c-6${id}-b`), rt);
        const [ipA, ipB] = [v6Of(ra), v6Of(rb)];
        assert.ok(ipA && ipB, "both pods have an IPv6 address");
        nftIn(b, receiverRuleset);
        // Own source arrives (NDP from link-local and global sources passes the guard).
        await eventually(() => {
          inNetns(a, ["python3", "-c", sendRaw6, ipA, ipB, "41100", "1"]);
          return arrivedPorts(b).has(41_100);
        }, "a's own IPv6 packet to reach b");
        const before = spoofCounts(n1).ipv6;
        const spoofed = [ipB, "fd91::2", "2001:4860:4860::8888"];
        for (const [i, src] of spoofed.entries())
          inNetns(a, ["python3", "-c", sendRaw6, src, ipB, String(41_101 + i), "2"]);
        // A marker with a's own source sent after them: once it is in, the spoofed ones had their chance.
        await eventually(() => {
          inNetns(a, ["python3", "-c", sendRaw6, ipA, ipB, "41110", "1"]);
          return arrivedPorts(b).has(41_110);
        }, "the marker packet");
        for (const [i, src] of spoofed.entries())
          assert.ok(!arrivedPorts(b).has(41_101 + i), `spoofed ${src} must not arrive`);
        assert.equal(spoofCounts(n1).ipv6 - before, spoofed.length * 2, "each spoofed IPv6 packet counted");
        await delNetworkList(l, att(a, `c-6${id}-a`), rt, ra);
        await delNetworkList(l, att(b, `c-6${id}-b`), rt, rb);
      } finally {
        for (const p of agents.splice(0)) p.kill("SIGTERM");
        nss.cleanup();
      }
    });
  }

  test("CHECK finds a missing guard element; GC removes the elements of gone pods and keeps live ones", async () => {
    const nss = new TestNamespaces("spoofgc");
    try {
      const { n1 } = makeTopology(nss);
      const rt = sandbox.runtime(n1, { STRATA_NO_AGENT: "1" });
      const l = conf(sandbox, "routed", "10.72.1.0/24");
      const [live, gone] = [nss.create("live"), nss.create("gone")];
      const att = (ns: string, id: string) => ({ containerId: id, netns: nss.path(ns), ifName: "eth0" });
      const rLive = await addNetworkList(l, att(live, "c-gc-live"), rt);
      const rGone = await addNetworkList(l, att(gone, "c-gc-gone"), rt);
      const table = () =>
        parseGuardTable(inNetns(n1, ["nft", "-j", "list", "table", "inet", "strata-antispoof"]));
      const guarded = () => [...table().sources.values()].flatMap((s) => s.v4);
      await checkNetworkList(l, att(live, "c-gc-live"), rt, rLive);
      // CHECK: the pod's address no longer allowed → code 103 naming it.
      const port = [...table().sources.values()].find((s) => s.v4.includes(addrOf(rLive)))?.port ?? "";
      nftIn(n1, `delete element inet strata-antispoof v4 { "${port}" . ${addrOf(rLive)} }\n`);
      await assert.rejects(
        checkNetworkList(l, att(live, "c-gc-live"), rt, rLive),
        (err: Error & { cniCode?: number }) =>
          err.cniCode === 103 && err.message.includes(`does not allow ${addrOf(rLive)}`),
      );
      nftIn(n1, `add element inet strata-antispoof v4 { "${port}" . ${addrOf(rLive)} }\n`);
      // The runtime loses a pod without DEL (its namespace and so its veth are gone).
      execFileSync("ip", ["netns", "del", gone]);
      assert.ok(guarded().includes(addrOf(rGone)), "stale element before GC");
      await gcNetworkList(l, [{ containerID: "c-gc-live", ifname: "eth0" }], rt);
      assert.deepEqual(guarded(), [addrOf(rLive)], "GC removed the gone pod's element, kept the live one");
      assert.deepEqual([...table().ports], [port]);
      await delNetworkList(l, att(live, "c-gc-live"), rt, rLive);
    } finally {
      nss.cleanup();
    }
  });

  test("with antiSpoofing false the same attack gets through (what the guard prevents)", async () => {
    const nss = new TestNamespaces("spoofoff");
    try {
      const { n1, n2 } = makeTopology(nss);
      const l1 = conf(sandbox, "bridge", "10.72.1.0/24", false);
      const l2 = conf(sandbox, "bridge", "10.72.2.0/24", false);
      const [a, c] = [nss.create("a"), nss.create("c")];
      const att = (ns: string, id: string) => ({ containerId: id, netns: nss.path(ns), ifName: "eth0" });
      const rt1 = sandbox.runtime(n1, { STRATA_NO_AGENT: "1" });
      const rt2 = sandbox.runtime(n2, { STRATA_NO_AGENT: "1" });
      await addNetworkList(l1, att(a, "c-off-a"), rt1);
      const rc = await addNetworkList(l2, att(c, "c-off-c"), rt2);
      nftIn(c, receiverRuleset);
      await eventually(() => {
        inNetns(a, ["python3", "-c", sendRaw, "8.8.8.8", addrOf(rc), "41999", "1"]);
        return arrivedPorts(c).has(41_999);
      }, "the spoofed packet to arrive at the unguarded network's receiver");
      assert.throws(
        () =>
          execFileSync("ip", ["netns", "exec", n1, "nft", "list", "table", "bridge", "strata-antispoof"], {
            stdio: "ignore",
          }),
        "no guard table was made",
      );
    } finally {
      nss.cleanup();
    }
  });
});

/** One gratuitous ARP reply from `dev` claiming `sender` (a raw AF_PACKET frame). */
const sendArp = `
import socket, struct, sys
dev, sender, target = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
mac = s.getsockname()[4]
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, socket.inet_aton(sender), b"\\xff" * 6, socket.inet_aton(target))
s.send(b"\\xff" * 6 + mac + struct.pack("!H", 0x0806) + arp)
`;
