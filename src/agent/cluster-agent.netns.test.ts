import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { type EtcdProcess, startEtcd } from "../../test/support/etcd.js";
import { TestNamespaces } from "../../test/support/netns.js";
import type { Backend } from "../backends/api.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { createVxlanBackend } from "../backends/vxlan/vxlan.js";
import { subnetKey } from "../cluster/lease-validation.js";
import { eventually as poll } from "../common/eventually.js";
import type { Datastore } from "../datastore/api.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { connectEtcd } from "../datastore/etcd/etcd-store.js";
import { loadEtcdTls } from "../datastore/etcd/etcd-tls.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { ClusterAgent } from "./cluster-agent.js";
import { startHealthServer } from "./health-server.js";

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
  store: Datastore,
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

/** Up to 3 echoes, 2 s each: under a loaded CI machine the first can go unanswered (ARP under way). */
const ping = (from: string, to: string) => {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      execFileSync("ip", ["netns", "exec", from, "ping", "-c", "1", "-W", "2", "-q", to], {
        stdio: "ignore",
      });
      return true;
    } catch {}
  }
  return false;
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
    // Health reads the kernel's routes back: an onlink route via the VTEP counts as present.
    await eventually(async () => (await a.agent.statusNow()).missingRoutes.length === 0, "no route missing");
    assert.equal((await a.agent.statusNow()).peers, 1);
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

const leaseValue = (node: string, subnet: string, publicIp: string) =>
  JSON.stringify({ node, subnet, publicIp, publicPrefix: 24, backend: "host-gw", backendData: {} });

/** GET a path of a health server on loopback. */
async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

describe("forged, malformed and overlapping leases (a real store: embedded, and etcd over TLS)", () => {
  const all: Node[] = [];
  const nss = new TestNamespaces("lease");
  let etcd: EtcdProcess | undefined;
  const stores: { name: string; open: () => Promise<Datastore> }[] = [
    { name: "embedded", open: async () => new EmbeddedStore() },
    {
      name: "etcd with TLS",
      open: async () => {
        etcd = await startEtcd({ tls: true });
        const pki = etcd.pki;
        assert.ok(pki);
        return connectEtcd(
          [etcd.endpoint],
          loadEtcdTls([etcd.endpoint], { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }),
        );
      },
    },
  ];
  after(async () => {
    for (const n of all) n.ac.abort();
    nss.cleanup();
    await etcd?.stop();
  });
  const hostGw = () => createHostGwBackend();
  const routesOf = async (ns: string) =>
    (await kernel.routes(namedNetns(ns), { family: 4 })).map((r) => r.dst);

  for (const [i, kind] of stores.entries()) {
    test(`${kind.name}: a forged lease for 203.0.113.0/24, a /25 inside n2's /24 and garbage are rejected; routes to the good peers stay, a joining node routes to every valid peer, /healthz and /metrics show the rejections`, async () => {
      const store = await kind.open();
      const seg = `192.168.${61 + i}`;
      const sw = underlay(nss, [seg]);
      const base = 10 * (i + 2);
      const a = await addNode(nss, sw, 0, seg, base + 1, hostGw, store);
      const b = await addNode(nss, sw, 0, seg, base + 2, hostGw, store);
      all.push(a, b);
      const bSubnet = b.agent.status.subnet as string;
      await eventually(() => a.agent.status.peers === 1, "a sees b");
      // The attack: writes a pod could have made before the datastore was closed to it.
      await store.put(subnetKey("203.0.113.0/24"), leaseValue("n9", "203.0.113.0/24", `${seg}.99`));
      const quarter = bSubnet.replace(/\/24$/, "/25");
      await store.put(subnetKey(quarter), leaseValue("n8", quarter, `${seg}.98`));
      // Garbage at the next free subnet's key: a joining node must neither fail nor take it.
      const next = bSubnet.replace(/^10\.244\.(\d+)/, (_, x) => `10.244.${Number(x) + 1}`);
      await store.put(subnetKey(next), "{garbage");
      await eventually(() => a.agent.status.leaseConflicts.length === 3, "a reports three rejected leases");
      assert.deepEqual(
        a.agent.status.leaseConflicts.map((c) => [c.key, c.reason]).sort(),
        [
          [subnetKey(next), "malformed"],
          [subnetKey(quarter), "wrong-prefix-length"],
          [subnetKey("203.0.113.0/24"), "outside-cluster-cidr"],
        ].sort(),
      );
      // Another pass sees the same set: reconciles still succeed and nothing forged is routed.
      const before = a.agent.status.reconciles;
      await a.agent.reconcile();
      assert.ok(a.agent.status.reconciles > before, "the reconcile proceeds with the valid set");
      assert.equal(a.agent.status.lastError, undefined);
      const routes = await routesOf(a.ns);
      assert.ok(routes.includes(bSubnet), "route to the good peer stays");
      assert.ok(!routes.includes("203.0.113.0/24") && !routes.includes(quarter), routes.join(" "));
      assert.ok(ping(a.pod, b.podIp as string), "pod a → pod b");
      // A node joining now gets a clean subnet and routes to every valid peer.
      const c = await addNode(nss, sw, 0, seg, base + 3, hostGw, store);
      all.push(c);
      const cSubnet = c.agent.status.subnet as string;
      assert.notEqual(cSubnet, next, "the garbage key's subnet is not handed out");
      await eventually(() => c.agent.status.peers === 2, "the new node sees both valid peers");
      await eventually(async () => {
        const r = await routesOf(c.ns);
        return r.includes(bSubnet) && r.includes(a.agent.status.subnet as string);
      }, "the new node routes to both");
      // And they to it (a lease view that comes within a second of an agent's last pass waits for
      // the next second: lease-burst.ts).
      for (const peer of [a, b])
        await eventually(
          async () => (await routesOf(peer.ns)).includes(cSubnet),
          `${peer.name} routes to the new node`,
        );
      assert.ok(ping(c.pod, a.podIp as string) && ping(c.pod, b.podIp as string), "new pod reaches both");
      // Health: the rejections are visible, the node itself is fine.
      const health = await startHealthServer(0, () => a.agent.statusNow());
      try {
        const port = (health.address() as AddressInfo).port;
        const h = await httpGet(port, "/healthz");
        assert.equal(h.status, 200);
        const body = JSON.parse(h.body) as { ok: boolean; leaseConflicts: { key: string; reason: string }[] };
        assert.equal(body.ok, true);
        assert.ok(body.leaseConflicts.some((x) => x.key === subnetKey("203.0.113.0/24")));
        assert.match((await httpGet(port, "/metrics")).body, /^strata_rejected_leases 3$/m);
      } finally {
        health.close();
      }
      // The forged keys go: the rejections clear.
      for (const k of [subnetKey("203.0.113.0/24"), subnetKey(quarter), subnetKey(next)])
        await store.delete(k);
      await eventually(() => a.agent.status.leaseConflicts.length === 0, "rejections cleared");
      for (const n of [a, b, c]) {
        n.ac.abort();
        await n.agent.stop({ releaseLease: true });
      }
      await store.close();
    });
  }

  test("a node whose own lease loses to an older forged one says so: /healthz is not ok", async () => {
    const store = new EmbeddedStore();
    const seg = "192.168.64";
    const sw = underlay(nss, [seg]);
    // Written before the node starts, so it is the older lease: it claims the node's own address.
    await store.put(subnetKey("10.244.200.0/24"), leaseValue("evil", "10.244.200.0/24", `${seg}.51`));
    const n = await addNode(nss, sw, 0, seg, 41, hostGw, store);
    all.push(n);
    await eventually(() => n.agent.status.ownLeaseRejected !== undefined, "own lease reported rejected");
    assert.match(n.agent.status.ownLeaseRejected ?? "", /^duplicate-public-ip: .*evil/);
    const health = await startHealthServer(0, () => n.agent.statusNow());
    try {
      const port = (health.address() as AddressInfo).port;
      const h = await httpGet(port, "/healthz");
      assert.equal(h.status, 503);
      assert.equal((JSON.parse(h.body) as { ok: boolean }).ok, false);
    } finally {
      health.close();
    }
    // The forged lease is not routed through ourselves either, and reconciling keeps working.
    await n.agent.reconcile();
    assert.equal(n.agent.status.lastError, undefined);
    assert.ok(!(await routesOf(n.ns)).includes("10.244.200.0/24"));
    // The forgery removed: the node's lease is valid again and health recovers.
    await store.delete(subnetKey("10.244.200.0/24"));
    await eventually(() => n.agent.status.ownLeaseRejected === undefined, "own lease valid again");
    n.ac.abort();
    await n.agent.stop({ releaseLease: true });
    await store.close();
  });
});
