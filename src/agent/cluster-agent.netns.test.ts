import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { TestNamespaces } from "../../test/support/netns.js";
import type { Backend } from "../backends/api.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { createVxlanBackend } from "../backends/vxlan/vxlan.js";
import { eventually as poll } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { ClusterAgent } from "./cluster-agent.js";

const kernel = createIproute2Kernel();
const logger = pino({ level: "silent" });

interface Node {
  name: string;
  ns: string;
  ip: string;
  pod: string;
  agent: ClusterAgent;
  ac: AbortController;
  podIp?: string;
}

/** Underlay: one switch namespace with a bridge per segment, routing between them (l3). */
function underlay(nss: TestNamespaces, segments: string[]): string {
  const sw = nss.create("sw");
  const sh = (...a: string[]) => execFileSync("ip", ["-n", sw, ...a]);
  for (const [i, s] of segments.entries()) {
    sh("link", "add", "name", `br${i}`, "type", "bridge");
    sh("addr", "add", `${s}.1/24`, "dev", `br${i}`);
    sh("link", "set", `br${i}`, "up");
  }
  execFileSync("ip", ["netns", "exec", sw, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  return sw;
}

async function addNode(
  nss: TestNamespaces,
  sw: string,
  seg: number,
  segNet: string,
  idx: number,
  backend: (n: string) => Backend,
  store: EmbeddedStore,
): Promise<Node> {
  const name = `n${idx}`;
  const ns = nss.create(name);
  const ip = `${segNet}.${10 + idx}`;
  const sh = (n: string, ...a: string[]) => execFileSync("ip", ["-n", n, ...a]);
  sh(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${idx}`, "netns", sw);
  sh(ns, "addr", "add", `${ip}/24`, "dev", "eth0");
  sh(ns, "link", "set", "eth0", "up");
  sh(ns, "route", "add", "default", "via", `${segNet}.1`);
  sh(sw, "link", "set", `p${idx}`, "master", `br${seg}`, "up");
  const ac = new AbortController();
  const agent = new ClusterAgent({
    kernel,
    store,
    hostNs: namedNetns(ns),
    node: name,
    clusterCidr: "10.244.0.0/16",
    subnetLen: 24,
    underlayDev: "eth0",
    backend: backend(name),
    leaseTtlSeconds: 5,
    resyncMs: 2000,
    logger,
    signal: ac.signal,
    masquerade: false,
  });
  const lease = await agent.start();
  // A pod on the node: cni0 with the subnet's gateway, one namespace with an address behind it.
  const gw = lease.subnet.replace(/0\/24$/, "1");
  const podIp = lease.subnet.replace(/0\/24$/, "10");
  const pod = nss.create(`${name}pod`);
  const mtu = String(agent.status.podMtu);
  sh(ns, "link", "add", "name", "cni0", "mtu", mtu, "type", "bridge");
  sh(ns, "addr", "add", `${gw}/24`, "dev", "cni0");
  sh(ns, "link", "set", "cni0", "up");
  sh(
    ns,
    "link",
    "add",
    "name",
    "vp",
    "mtu",
    mtu,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "mtu",
    mtu,
    "netns",
    pod,
  );
  sh(ns, "link", "set", "vp", "master", "cni0", "up");
  sh(pod, "addr", "add", `${podIp}/24`, "dev", "eth0");
  sh(pod, "link", "set", "eth0", "up");
  sh(pod, "route", "add", "default", "via", gw);
  void agent.run();
  return { name, ns, ip, pod, agent, ac, podIp };
}

const ping = (from: string, to: string) => {
  try {
    execFileSync("ip", ["netns", "exec", from, "ping", "-c", "1", "-W", "2", "-q", to], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const eventually = (cond: () => boolean | Promise<boolean>, what: string) =>
  poll(cond, what, { timeoutMs: 15_000 });

describe("cluster agents in real namespaces", () => {
  const all: Node[] = [];
  const nss = new TestNamespaces("clu");
  after(() => {
    for (const n of all) n.ac.abort();
    nss.cleanup();
  });

  test("host-gw on one L2 segment: pods talk across nodes; a node that leaves loses its routes everywhere", async () => {
    const store = new EmbeddedStore();
    const sw = underlay(nss, ["192.168.31"]);
    const nodes: Node[] = [];
    for (let i = 1; i <= 3; i++)
      nodes.push(await addNode(nss, sw, 0, "192.168.31", i, () => createHostGwBackend(), store));
    all.push(...nodes);
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    await eventually(() => nodes.every((n) => n.agent.status.peers === 2), "every node sees two peers");
    assert.ok(ping(n1.pod, n2.podIp as string), "pod n1 → pod n2");
    assert.ok(ping(n3.pod, n1.podIp as string), "pod n3 → pod n1");
    const routes = await kernel.routes(namedNetns(n1.ns), { family: 4 });
    assert.ok(routes.some((r) => r.dst === n2.agent.status.subnet && r.via === n2.ip));
    n3.ac.abort();
    await n3.agent.stop({ releaseLease: true });
    await eventually(async () => {
      const r = await kernel.routes(namedNetns(n1.ns), { family: 4 });
      return !r.some((x) => x.dst === n3.agent.status.subnet);
    }, "n3's route removed on n1");
    assert.ok(ping(n1.pod, n2.podIp as string), "remaining pods still talk");
    await store.close();
  });

  test("host-gw across a router is reported as not workable instead of black-holing", async () => {
    const store = new EmbeddedStore();
    const sw = underlay(nss, ["192.168.41", "192.168.42"]);
    const a = await addNode(nss, sw, 0, "192.168.41", 4, () => createHostGwBackend(), store);
    const b = await addNode(nss, sw, 1, "192.168.42", 5, () => createHostGwBackend(), store);
    all.push(a, b);
    await eventually(() => a.agent.status.unreachable.length === 1, "n4 reports n5 unreachable");
    assert.match(a.agent.status.unreachable[0]?.reason ?? "", /shared L2 segment/);
    const routes = await kernel.routes(namedNetns(a.ns), { family: 4 });
    assert.equal(
      routes.some((r) => r.dst === b.agent.status.subnet),
      false,
      "no black-hole route",
    );
    await store.close();
  });

  test("vxlan across a router: static FDB/neighbour entries, MTU underlay-50, pods talk", async () => {
    const store = new EmbeddedStore();
    const sw = underlay(nss, ["192.168.51", "192.168.52"]);
    const vx = (n: string) => createVxlanBackend({ vni: 1, port: 8472, directRouting: false, node: n });
    const a = await addNode(nss, sw, 0, "192.168.51", 6, vx, store);
    const b = await addNode(nss, sw, 1, "192.168.52", 7, vx, store);
    all.push(a, b);
    await eventually(() => a.agent.status.peers === 1 && b.agent.status.peers === 1, "peers seen");
    await eventually(() => ping(a.pod, b.podIp as string), "pod n6 → pod n7 over VXLAN");
    const dev = await kernel.link(namedNetns(a.ns), "strata.1");
    assert.equal(dev?.mtu, 1450);
    assert.equal(dev?.vxlan?.learning, false);
    const fdb = await kernel.fdb(namedNetns(a.ns), "strata.1");
    assert.ok(fdb.some((e) => e.dst === b.ip));
    // Full-size packets at the pod MTU cross with DF set.
    const df = execFileSync("ip", [
      "netns",
      "exec",
      a.pod,
      "ping",
      "-c",
      "1",
      "-W",
      "2",
      "-M",
      "do",
      "-s",
      String(1450 - 28),
      b.podIp as string,
    ]);
    assert.match(df.toString(), /1 received/);
    await store.close();
  });
});
