import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { getInNetns } from "../../test/support/agent-http.js";
import { repoRoot } from "../../test/support/cni.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { removeNode } from "../cli/agent-wiring.js";
import { subnetKey } from "../cluster/lease-validation.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { type DatastoreServer, serveDatastore } from "../datastore/embedded/server.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { ClusterAgent } from "./cluster-agent.js";
import { assessHealth } from "./health.js";
import { startHealthServer } from "./health-server.js";

/**
 * Issue 9, items 1 and 4, with real `strata agent` processes in node namespaces (host-gw on one
 * switch, an embedded datastore served from this process): a kill -9 leaves every route in place,
 * a restart takes back its subnet, a restart whose subnet was taken meanwhile is refused,
 * `strata node remove` withdraws the routes everywhere, and /healthz says when a route is missing
 * or the datastore has been gone too long.
 */
const kernel = createIproute2Kernel();
const cli = join(repoRoot, "bin/strata.js");
/** The lab's lease TTL before this change: a kill -9 cost every route to the node after this long. */
const oldTtlSeconds = 10;

interface Node {
  name: string;
  ns: string;
  ip: string;
  stateDir: string;
  proc?: ChildProcess;
  subnet?: string;
  pod?: string;
  podIp?: string;
}

interface Health {
  status: number;
  body: {
    ok?: boolean;
    ready?: boolean;
    problems?: string[];
    waitingFor?: string[];
    subnet?: string;
    peersNotAlive?: string[];
    missingRoutes?: { node?: string; dst: string }[];
  };
  text: string;
}

/** GET a path of the agent's health port inside its namespace, whatever the status. */
function httpIn(ns: string, path: string): Health {
  const { status, text } = getInNetns(ns, path);
  return { status, text, body: text.startsWith("{") ? (JSON.parse(text) as Health["body"]) : {} };
}

const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
const routeTo = (ns: string, dst: string) =>
  execFileSync("ip", ["-n", ns, "route", "show", "exact", dst], { encoding: "utf8" }).trim();
const ping = (from: string, to: string) => {
  try {
    execFileSync("ip", ["netns", "exec", from, "ping", "-c", "1", "-W", "2", "-q", to], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

describe("durability: routes outlive the agent (real agent processes, host-gw)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-durable-"));
  const nss = new TestNamespaces("dur");
  const procs: ChildProcess[] = [];
  const sock = join(dir, "store", "kv.sock");
  const store = new EmbeddedStore();
  let server: DatastoreServer | undefined;
  let sw = "";
  const nodes = new Map<string, Node>();
  const net = "192.168.77";

  before(async () => {
    server = await serveDatastore(store, sock);
    sw = nss.create("sw");
    ip(sw, "link", "add", "br0", "type", "bridge");
    ip(sw, "link", "set", "br0", "up");
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    nss.cleanup();
    await server?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function addNode(i: number): Node {
    const name = `n${i}`;
    const ns = nss.create(name);
    const addr = `${net}.${10 + i}`;
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
    ip(sw, "link", "set", `p${i}`, "master", "br0", "up");
    ip(ns, "addr", "add", `${addr}/24`, "dev", "eth0");
    ip(ns, "link", "set", "eth0", "up");
    const node: Node = { name, ns, ip: addr, stateDir: join(dir, name) };
    nodes.set(name, node);
    return node;
  }

  /** `strata agent` in the node's namespace, as the lab starts it (a short heartbeat to watch liveness). */
  function startAgent(n: Node): ChildProcess {
    const cniDir = join(dir, `cni-${n.name}`);
    mkdirSync(cniDir, { recursive: true, mode: 0o700 });
    const log = openSync(join(dir, `${n.name}.log`), "a");
    const args = [
      ...["agent", "--node", n.name, "--backend", "host-gw", "--datastore", `embedded:${sock}`],
      ...["--underlay-dev", "eth0", "--state-dir", n.stateDir, "--no-masquerade"],
      ...["--heartbeat-ttl", "3", "--datastore-timeout", "3", "--resync-interval", "20"],
      ...["--cni-socket-dir", cniDir, "--cni-bin-dir", dir],
    ];
    const p = spawn("ip", ["netns", "exec", n.ns, process.execPath, cli, ...args], {
      stdio: ["ignore", log, "pipe"],
    });
    procs.push(p);
    n.proc = p;
    return p;
  }

  /** The subnet the agent wrote to its state directory. */
  const subnetFile = (n: Node) =>
    (JSON.parse(readFileSync(join(n.stateDir, "subnet.json"), "utf8")) as { subnet: string }).subnet;

  /** A pod behind the node's cni0 bridge at .10 of its subnet (once, the first time the node leases). */
  function addPod(n: Node): void {
    const subnet = n.subnet as string;
    const gw = subnet.replace(/0\/24$/, "1");
    n.podIp = subnet.replace(/0\/24$/, "10");
    const pod = nss.create(`${n.name}pod`);
    n.pod = pod;
    ip(n.ns, "link", "add", "name", "cni0", "type", "bridge");
    ip(n.ns, "addr", "add", `${gw}/24`, "dev", "cni0");
    ip(n.ns, "link", "set", "cni0", "up");
    ip(n.ns, "link", "add", "name", "vp", "type", "veth", "peer", "name", "eth0", "netns", pod);
    ip(n.ns, "link", "set", "vp", "master", "cni0", "up");
    ip(pod, "addr", "add", `${n.podIp}/24`, "dev", "eth0");
    ip(pod, "link", "set", "eth0", "up");
    ip(pod, "route", "add", "default", "via", gw);
  }

  async function upAndReady(n: Node): Promise<void> {
    startAgent(n);
    await eventually(() => httpIn(n.ns, "/readyz").status === 200, `${n.name} ready`, { timeoutMs: 20_000 });
    n.subnet = subnetFile(n);
  }

  const killAgent = async (n: Node) => {
    const p = n.proc as ChildProcess;
    p.kill("SIGKILL");
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once("exit", r)));
  };

  const routedEverywhere = (target: Node) =>
    [...nodes.values()]
      .filter((n) => n !== target && n.proc && n.proc.exitCode === null && n.proc.signalCode === null)
      .every((n) => routeTo(n.ns, target.subnet as string).includes(`via ${target.ip}`));

  test("three agents lease subnets; /readyz is 200 with nothing to wait for; pods talk across nodes", async () => {
    for (const i of [1, 2, 3]) {
      const n = addNode(i);
      await upAndReady(n);
      addPod(n);
    }
    const [n1, n2, n3] = ["n1", "n2", "n3"].map((k) => nodes.get(k) as Node) as [Node, Node, Node];
    await eventually(() => [n1, n2, n3].every(routedEverywhere), "every node routes to every other", {
      timeoutMs: 15_000,
    });
    const r = httpIn(n1.ns, "/readyz");
    assert.deepEqual(r.body.waitingFor, []);
    assert.equal(r.body.subnet, n1.subnet);
    assert.ok(ping(n1.pod as string, n3.podIp as string) && ping(n3.pod as string, n2.podIp as string));
  });

  test(`kill -9 of an agent: for three times the old TTL (${3 * oldTtlSeconds} s) every other node keeps its routes and pods still reach its pods; it is reported not alive, nothing more`, async () => {
    const [n1, n2, n3] = ["n1", "n2", "n3"].map((k) => nodes.get(k) as Node) as [Node, Node, Node];
    await killAgent(n3);
    const until = Date.now() + 3 * oldTtlSeconds * 1000;
    while (Date.now() < until) {
      assert.ok(routedEverywhere(n3), "n1 and n2 still route to n3's pods");
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.ok(routeTo(n1.ns, n3.subnet as string).includes(`via ${n3.ip}`));
    assert.ok(routeTo(n2.ns, n3.subnet as string).includes(`via ${n3.ip}`));
    assert.ok(ping(n1.pod as string, n3.podIp as string), "pod n1 → pod n3 (n3's kernel still forwards)");
    assert.ok(ping(n3.pod as string, n2.podIp as string), "pod n3 → pod n2");
    const h = httpIn(n1.ns, "/healthz");
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.body.peersNotAlive, ["n3"], "liveness is reported");
    assert.match(httpIn(n1.ns, "/metrics").text, /^strata_peers_not_alive 1$/m);
  });

  test("restarted, the agent takes back the same subnet (state directory and datastore agree)", async () => {
    const [n1, n3] = ["n1", "n3"].map((k) => nodes.get(k) as Node) as [Node, Node];
    const before = n3.subnet;
    await upAndReady(n3);
    assert.equal(n3.subnet, before, "subnet.json");
    assert.equal(httpIn(n3.ns, "/healthz").body.subnet, before, "/healthz");
    await eventually(
      () => httpIn(n1.ns, "/healthz").body.peersNotAlive?.length === 0,
      "n3 alive again on n1",
    );
    assert.ok(ping(n1.pod as string, n3.podIp as string));
  });

  test("`strata node remove` makes every other node withdraw the node's routes", async () => {
    const [n1, n2, n3] = ["n1", "n2", "n3"].map((k) => nodes.get(k) as Node) as [Node, Node, Node];
    await killAgent(n3);
    const removed = await spawnCli(["node", "remove", "n3", "--datastore", `embedded:${sock}`]);
    assert.equal(removed.code, 0, removed.stderr);
    const out = removed.stdout;
    assert.match(out, new RegExp(`removed /strata/subnets/${(n3.subnet as string).replace("/", "-")}`));
    await eventually(
      () => routeTo(n1.ns, n3.subnet as string) === "" && routeTo(n2.ns, n3.subnet as string) === "",
      "n1 and n2 withdrew n3's route",
    );
    assert.ok(ping(n1.pod as string, n2.podIp as string), "the others still talk");
    // Nothing left to remove: a clear one-line error, exit 1.
    const again = await spawnCli(["node", "remove", "n3", "--datastore", `embedded:${sock}`]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim(), "strata: no subnet lease or heartbeat of node n3 in the datastore");
  });

  test("a restart whose subnet was taken meanwhile by another node is refused: one line naming subnet and owner, exit non-zero, nothing changed", async () => {
    const n3 = nodes.get("n3") as Node;
    const n4 = addNode(4);
    await upAndReady(n4);
    assert.equal(n4.subnet, n3.subnet, "the new node got n3's old subnet (the lowest free one)");
    const subnets = JSON.stringify((await store.list("/strata/subnets/")).items);
    const routes = execFileSync("ip", ["-n", n3.ns, "route"], { encoding: "utf8" });
    const links = execFileSync("ip", ["-n", n3.ns, "-br", "link"], { encoding: "utf8" });
    const state = readFileSync(join(n3.stateDir, "subnet.json"), "utf8");
    const p = startAgent(n3);
    let stderr = "";
    p.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
    assert.notEqual(code, 0);
    const line = stderr.trim();
    assert.doesNotMatch(line, /\n/, "one line, no stack trace");
    assert.match(
      line,
      new RegExp(
        `^strata: subnet ${(n3.subnet as string).replace(/\./g, "\\.")} .*subnet\\.json\\) now belongs to node n4 \\(${n4.ip.replace(/\./g, "\\.")}\\); refusing to start`,
      ),
    );
    assert.equal(
      JSON.stringify((await store.list("/strata/subnets/")).items),
      subnets,
      "datastore unchanged",
    );
    assert.equal(
      execFileSync("ip", ["-n", n3.ns, "route"], { encoding: "utf8" }),
      routes,
      "n3's routes unchanged",
    );
    assert.equal(execFileSync("ip", ["-n", n3.ns, "-br", "link"], { encoding: "utf8" }), links);
    assert.equal(readFileSync(join(n3.stateDir, "subnet.json"), "utf8"), state, "subnet.json unchanged");
  });

  test("/healthz is not ok while a route to a peer is missing from the kernel (body names it); the repair pass puts it back", async () => {
    const [n1, n2] = ["n1", "n2"].map((k) => nodes.get(k) as Node) as [Node, Node];
    assert.equal(httpIn(n1.ns, "/healthz").status, 200);
    ip(n1.ns, "route", "del", n2.subnet as string);
    const h = httpIn(n1.ns, "/healthz");
    assert.equal(h.status, 503, h.text);
    assert.equal(h.body.ok, false);
    assert.deepEqual(h.body.missingRoutes, [{ node: "n2", dst: n2.subnet, via: n2.ip }]);
    assert.match(
      (h.body.problems ?? []).join("\n"),
      new RegExp(`route to node n2 ${n2.subnet} via ${n2.ip} is missing`),
    );
    assert.match(httpIn(n1.ns, "/metrics").text, /^strata_missing_routes 1$/m);
    await eventually(() => httpIn(n1.ns, "/healthz").status === 200, "repaired (--resync-interval 20)", {
      timeoutMs: 30_000,
    });
    assert.ok(routeTo(n1.ns, n2.subnet as string).includes(`via ${n2.ip}`));
  });

  test("/healthz is not ok once the datastore has been unreachable longer than --datastore-timeout; routes stay; ok again when it is back", async () => {
    const [n1, n2] = ["n1", "n2"].map((k) => nodes.get(k) as Node) as [Node, Node, Node];
    // The outage starts when close() begins dropping clients (it resolves after), so time from there.
    const t0 = Date.now();
    await server?.close();
    await eventually(() => httpIn(n1.ns, "/healthz").status === 503, "n1 unhealthy", { timeoutMs: 15_000 });
    assert.ok(Date.now() - t0 >= 3000, `not before the 3 s limit: ${httpIn(n1.ns, "/healthz").text}`);
    const h = httpIn(n1.ns, "/healthz");
    assert.match(
      (h.body.problems ?? []).join("\n"),
      /the datastore has been unreachable for \d+ s \(limit 3 s/,
    );
    assert.ok(routeTo(n1.ns, n2.subnet as string).includes(`via ${n2.ip}`), "routes stay during the outage");
    assert.ok(ping(n1.pod as string, n2.podIp as string), "pods still talk");
    server = await serveDatastore(store, sock);
    await eventually(() => httpIn(n1.ns, "/healthz").status === 200, "n1 healthy again", {
      timeoutMs: 15_000,
    });
  });

  test("an agent started while the datastore is down waits for it (alive, not ready, naming the store) and leases its subnet once it answers", async () => {
    await server?.close();
    const n6 = addNode(6);
    const p = startAgent(n6);
    await eventually(() => httpIn(n6.ns, "/healthz").status === 503, "n6 answers, unhealthy", {
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(p.exitCode, null, "the agent keeps running without its datastore");
    assert.equal(httpIn(n6.ns, "/readyz").status, 503);
    assert.deepEqual(httpIn(n6.ns, "/readyz").body.waitingFor?.[0], "a subnet lease");
    assert.match(readFileSync(join(dir, "n6.log"), "utf8"), /datastore unavailable; no subnet yet/);
    assert.ok(!existsSync(join(n6.stateDir, "subnet.json")), "no subnet before the store answers");
    server = await serveDatastore(store, sock);
    await eventually(() => httpIn(n6.ns, "/readyz").status === 200, "n6 ready once the store is back", {
      timeoutMs: 20_000,
    });
    n6.subnet = subnetFile(n6);
    await eventually(() => routedEverywhere(n6), "every node routes to n6's subnet", { timeoutMs: 15_000 });
  });
});

/**
 * Run the CLI to completion: exit code and output. Never synchronously: this process serves the
 * datastore the command talks to.
 */
function spawnCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    p.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    p.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("/readyz follows the agent's start (in-process agent, real namespace)", () => {
  const nss = new TestNamespaces("ready");
  after(() => nss.cleanup());

  test("not ready before the lease, the conflist and the first pass; each is named until it is done", async () => {
    const store = new EmbeddedStore();
    const dir = mkdtempSync(join(tmpdir(), "strata-ready-"));
    const ns = nss.create("n1");
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth1");
    ip(ns, "addr", "add", "192.168.78.11/24", "dev", "eth0");
    ip(ns, "link", "set", "eth0", "up");
    const ac = new AbortController();
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: "n1",
      clusterCidr: "10.244.0.0/16",
      subnetLen: 24,
      underlayDev: "eth0",
      backend: createHostGwBackend(),
      leaseTtlSeconds: 86_400,
      resyncMs: 60_000,
      logger: pino({ level: "silent" }),
      signal: ac.signal,
      stateDir: dir,
      masquerade: false,
    });
    const health = await startHealthServer(0, () => agent.statusNow());
    const port = (health.address() as AddressInfo).port;
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, body: (await r.json()) as { ready?: boolean; waitingFor?: string[] } };
    };
    try {
      let r = await get("/readyz");
      assert.equal(r.status, 503);
      assert.deepEqual(r.body.waitingFor, [
        "a subnet lease",
        "the CNI conflist to be written",
        "the first reconcile pass",
      ]);
      await agent.start();
      assert.ok(existsSync(join(dir, "10-strata.conflist")));
      r = await get("/readyz");
      assert.equal(r.status, 503);
      assert.deepEqual(r.body.waitingFor, ["the first reconcile pass"]);
      const running = agent.run();
      await eventually(async () => (await get("/readyz")).status === 200, "ready after the first pass");
      assert.equal((await get("/healthz")).status, 200, "/healthz too");
      ac.abort();
      await running;
      await agent.stop({ releaseLease: true });
    } finally {
      ac.abort();
      health.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a running agent whose node is removed says so and does not lease again by itself", () => {
  const nss = new TestNamespaces("own");
  after(() => nss.cleanup());

  test("after `node remove` its /healthz is not ok, naming the lost lease; renewals do not re-create it", async () => {
    const store = new EmbeddedStore();
    const ns = nss.create("n1");
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth1");
    ip(ns, "addr", "add", "192.168.78.11/24", "dev", "eth0");
    ip(ns, "link", "set", "eth0", "up");
    const ac = new AbortController();
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: "n1",
      clusterCidr: "10.244.0.0/16",
      subnetLen: 24,
      underlayDev: "eth0",
      backend: createHostGwBackend(),
      leaseTtlSeconds: 3, // renewed every second: a renewal must not undo the removal
      resyncMs: 500,
      logger: pino({ level: "silent" }),
      signal: ac.signal,
      masquerade: false,
    });
    try {
      const lease = await agent.start();
      const running = agent.run();
      await eventually(async () => assessHealth(await agent.statusNow(), Date.now()).ok, "healthy");
      const removed = await removeNode(store, "n1");
      assert.ok(removed.includes(subnetKey(lease.subnet)));
      await eventually(() => agent.status.ownership !== undefined, "the agent noticed");
      const h = assessHealth(await agent.statusNow(), Date.now());
      assert.equal(h.ok, false);
      assert.match(h.problems.join("\n"), /subnet lease 10\.244\.1\.0\/24 is no longer in the datastore/);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await store.get(subnetKey(lease.subnet)), undefined, "not re-created by a renewal");
      ac.abort();
      await running;
      await agent.stop({ releaseLease: false });
    } finally {
      ac.abort();
      await store.close();
    }
  });
});
