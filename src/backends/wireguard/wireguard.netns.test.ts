import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { TestNamespaces } from "../../../test/support/netns.js";
import { ClusterAgent } from "../../agent/cluster-agent.js";
import { subnetKey } from "../../cluster/lease-validation.js";
import { SubnetLeases } from "../../cluster/subnet-leases.js";
import { eventually } from "../../common/eventually.js";
import { EmbeddedStore } from "../../datastore/embedded/embedded-store.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { hasEnded, identify } from "../../process/process-identity.js";
import { uapiDevice } from "./uapi-client.js";
import { createWireguardBackend, wireguardRunDir } from "./wireguard.js";
import { uapiSocketPath } from "./wireguard-go-process.js";

const kernel = createIproute2Kernel();
const logger = pino({ level: "silent" });
const policy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };

interface WgNode {
  name: string;
  ns: string;
  stateDir: string;
  agent: ClusterAgent;
  backend: ReturnType<typeof createWireguardBackend>;
  ac: AbortController;
  subnet: string;
}

interface WgStatus {
  datapath: string;
  datapathReason: string;
  publicKey: string;
  wireguardGo?: { pid?: number; restarts: number };
}
const statusOf = (n: WgNode) => (n.backend.status?.() ?? {}) as unknown as WgStatus;
const wgPid = (n: WgNode) => statusOf(n).wireguardGo?.pid;
/** The node's own address on strata.wg: its pod subnet's network address. */
const wgAddr = (n: WgNode) => n.subnet.replace(/\/24$/, "");
const ping = (from: WgNode, to: WgNode) => {
  try {
    execFileSync("ip", ["netns", "exec", from.ns, "ping", "-c", "1", "-W", "1", "-q", wgAddr(to)], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
};
const peersOf = async (n: WgNode) =>
  (await uapiDevice(uapiSocketPath(wireguardRunDir(n.stateDir), "strata.wg")).read()).peers;

describe("wireguard backend in real namespaces (wireguard-go)", { concurrency: 1 }, () => {
  const nss = new TestNamespaces("wg");
  const dir = mkdtempSync(join(tmpdir(), "strata-wgt-"));
  const store = new EmbeddedStore();
  const nodes: WgNode[] = [];
  const started: { pid: number; startTime: string }[] = [];
  const sw = nss.create("sw");
  execFileSync("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
  execFileSync("ip", ["-n", sw, "link", "set", "br0", "up"]);

  after(async () => {
    for (const n of nodes) {
      n.ac.abort();
      await n.agent.stop({ releaseLease: false });
    }
    // The wireguard-go processes these agents started (they outlive an agent by design), by PID.
    for (const n of nodes) {
      const pid = wgPid(n);
      if (pid) started.push(identify(pid) ?? { pid, startTime: "" });
    }
    for (const p of started) if (p.startTime && !hasEnded(p)) process.kill(p.pid, "SIGKILL");
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function addNode(i: number): Promise<WgNode> {
    const name = `n${i}`;
    const ns = nss.create(name);
    const sh = (n: string, ...a: string[]) => execFileSync("ip", ["-n", n, ...a]);
    sh(
      ns,
      "link",
      "add",
      "eth0",
      "type",
      "veth",
      "peer",
      "name",
      `p${i}-${ns.slice(-6)}`.slice(0, 15),
      "netns",
      sw,
    );
    sh(sw, "link", "set", `p${i}-${ns.slice(-6)}`.slice(0, 15), "master", "br0", "up");
    sh(ns, "addr", "add", `192.168.77.${10 + i}/24`, "dev", "eth0");
    sh(ns, "link", "set", "eth0", "up");
    const n = await startAgent(name, ns, join(dir, name));
    nodes.push(n);
    return n;
  }

  /** An agent (and its wireguard backend) for node `name` in `ns`, started and running. */
  async function startAgent(name: string, ns: string, stateDir: string): Promise<WgNode> {
    const backend = createWireguardBackend({
      datapath: "auto",
      listenPort: 51820,
      keepalive: 25,
      rotateIntervalSeconds: 0,
      stateDir,
    });
    const ac = new AbortController();
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: name,
      ...policy,
      underlayDev: "eth0",
      backend,
      leaseTtlSeconds: 30,
      resyncMs: 1000,
      logger,
      signal: ac.signal,
      masquerade: false,
      stateDir,
    });
    const lease = await agent.start();
    void agent.run();
    return { name, ns, stateDir, agent, backend, ac, subnet: lease.subnet };
  }

  test("each node publishes its public key; every device holds exactly the other nodes as peers; a node that leaves is removed everywhere, nothing stale", async () => {
    const [a, b, c] = [await addNode(1), await addNode(2), await addNode(3)];
    const status = statusOf(a);
    assert.equal(status.datapath, "wireguard-go"); // this kernel has no wireguard module
    assert.match(status.datapathReason, /no wireguard module/);
    // The lease carries the node's public key and port.
    const kv = await store.get(subnetKey(a.subnet));
    const published = JSON.parse(kv?.value ?? "{}").backendData;
    assert.deepEqual(published, { wgPublicKey: status.publicKey, wgListenPort: "51820" });
    const keyOf = (n: WgNode) => statusOf(n).publicKey;
    const expect = async (n: WgNode, others: WgNode[]) => {
      const peers = await peersOf(n);
      const want = others.map((o) => [
        keyOf(o),
        `192.168.77.${10 + Number(o.name.slice(1))}:51820`,
        o.subnet,
      ]);
      const have = peers.map((p) => [p.publicKey, p.endpoint, p.allowedIps.join(",")]);
      return (
        JSON.stringify(have.sort()) === JSON.stringify(want.sort()) && peers.every((p) => p.keepalive === 25)
      );
    };
    await eventually(
      async () => (await expect(a, [b, c])) && (await expect(c, [a, b])),
      "full mesh of peers",
      {
        timeoutMs: 15_000,
      },
    );
    await eventually(() => ping(a, b) && ping(c, a), "traffic through WireGuard", { timeoutMs: 15_000 });
    // n3 leaves the cluster: its lease is removed; every other device drops its peer (and route).
    c.ac.abort();
    await c.agent.stop({ releaseLease: false });
    await new SubnetLeases(store, policy).removeNode("n3");
    await eventually(
      async () => (await expect(a, [b])) && (await expect(b, [a])),
      "n3's peer gone everywhere",
      {
        timeoutMs: 15_000,
      },
    );
    const routes = await kernel.routes(namedNetns(a.ns));
    assert.ok(!routes.some((r) => r.dst === c.subnet), "no route to the node that left");
    assert.ok(ping(a, b));
  });

  test("wireguard-go killed: the agent starts it again, configures it, and traffic returns", async () => {
    const [a, b] = nodes;
    assert.ok(a && b);
    const pid = wgPid(a);
    assert.ok(pid);
    const first = identify(pid);
    assert.ok(first);
    started.push(first);
    process.kill(pid, "SIGKILL");
    await eventually(() => hasEnded(first), "wireguard-go gone", { timeoutMs: 5_000 });
    await eventually(
      () => {
        const s = statusOf(a).wireguardGo ?? { restarts: 0 };
        return s.restarts >= 1 && s.pid !== pid;
      },
      "wireguard-go restarted",
      { timeoutMs: 10_000 },
    );
    await eventually(() => ping(a, b) && ping(b, a), "traffic back after the restart", { timeoutMs: 15_000 });
    assert.equal((await peersOf(a)).length, 1);
  });

  test("an agent restart adopts the running wireguard-go: same process, same peers, no ping lost", async () => {
    const [a, b] = nodes;
    assert.ok(a && b);
    await eventually(() => ping(a, b) && ping(b, a), "traffic", { timeoutMs: 15_000 });
    const pid = wgPid(a);
    const pinger = spawn("ip", [
      "netns",
      "exec",
      b.ns,
      "ping",
      "-i",
      "0.02",
      "-c",
      "100",
      "-W",
      "1",
      "-q",
      wgAddr(a),
    ]);
    let out = "";
    pinger.stdout.on("data", (d) => (out += d));
    const done = new Promise((r) => pinger.on("close", r));
    await new Promise((r) => setTimeout(r, 300));
    a.ac.abort();
    await a.agent.stop({ releaseLease: false });
    const again = await startAgent(a.name, a.ns, a.stateDir);
    nodes[nodes.indexOf(a)] = again;
    await done;
    assert.equal(wgPid(again), pid, "the same wireguard-go, adopted");
    assert.equal(statusOf(again).wireguardGo?.restarts, 0);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]) - Number(m[2]), 0, out);
    assert.equal((await peersOf(again)).length, 1);
  });

  test("a key rotated while traffic flows: the new key is published, the peer follows, the old key is gone; lost packets counted", async () => {
    const [a, b] = nodes;
    assert.ok(a && b);
    await eventually(() => ping(a, b) && ping(b, a), "traffic", { timeoutMs: 15_000 });
    const before = statusOf(a).publicKey;
    // 100 packets a second for 3 s; each echo gets its second to answer.
    const pinger = spawn("ip", [
      "netns",
      "exec",
      b.ns,
      "ping",
      "-i",
      "0.01",
      "-c",
      "300",
      "-W",
      "1",
      "-q",
      wgAddr(a),
    ]);
    let out = "";
    pinger.stdout.on("data", (d) => (out += d));
    const done = new Promise((r) => pinger.on("close", r));
    await new Promise((r) => setTimeout(r, 800));
    const r = await a.agent.rotateKey();
    assert.equal(r.previous, before);
    assert.notEqual(r.publicKey, before);
    await done;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(m, out);
    const lost = Number(m[1]) - Number(m[2]);
    console.log(
      `# rotation under 100 pings/s: lost ${lost} of ${m[1]}; ${/rtt [^\n]*/.exec(out)?.[0] ?? ""}`,
    );
    const published = JSON.parse((await store.get(subnetKey(a.subnet)))?.value ?? "{}").backendData
      .wgPublicKey;
    assert.equal(published, r.publicKey);
    const peers = await peersOf(b);
    assert.deepEqual(
      peers.map((p) => p.publicKey),
      [r.publicKey],
      "the peer holds the new key only",
    );
    assert.ok(ping(a, b) && ping(b, a));
    assert.ok(lost <= 30, `lost ${lost} pings during the rotation`);
  });
});
