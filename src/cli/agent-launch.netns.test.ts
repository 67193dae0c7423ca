import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CniSandbox } from "../../test/support/cni.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { cniSocketPath, defaultCniSocketDir } from "../agent/cni-socket.js";
import { addNetworkList, type ConfList } from "../cni/runtime-client.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { type DatastoreServer, serveDatastore } from "../datastore/embedded/server.js";
import { spawnProgram } from "../kernel/iproute2/index.js";
import { SpawnPool } from "../process/spawn-pool.js";
import { launchAgent } from "./agent-launch.js";
import { UsageError } from "./options.js";
import { spawnHelperPath } from "./paths.js";

/**
 * Issue 16: one process (this test's, in the root namespace) runs the agents of several emulated
 * nodes, each for its node's namespace. Everything an agent does must land in its node's
 * namespace (routes, devices, the CNI socket, /healthz, BGP sessions) and nothing in the root's.
 */
const healthPort = 19000 + Math.floor(Math.random() * 900);
const run = promisify(execFile);
const sh = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
const inNs = (ns: string, ...argv: string[]) =>
  execFileSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8", timeout: 20_000 });
const socketOf = (ns: string) => cniSocketPath(defaultCniSocketDir, statSync(`/run/netns/${ns}`).ino);

/** What the root namespace holds that an agent could have added: links, routes, nft rules (read only). */
function rootState(): string {
  const links = JSON.parse(execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })) as {
    ifname: string;
    ifindex: number;
  }[];
  const routes = (family: string) =>
    execFileSync("ip", [family, "route", "show", "table", "all"], { encoding: "utf8" });
  return JSON.stringify({
    links: links.map((l) => `${l.ifindex}:${l.ifname}`).sort(),
    v4: routes("-4").split("\n").sort(),
    v6: routes("-6")
      .split("\n")
      .filter((l) => !l.includes("expires"))
      .sort(),
    // The source guard's and masquerade's nft tables are made by `nft` runs: those run in the node too.
    nft: execFileSync("nft", ["list", "ruleset"], { encoding: "utf8" }),
  });
}

/** Does 127.0.0.1:port of the root namespace accept a connection? */
const rootAccepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

/** Wait for /healthz inside `ns` to say ok; a timeout shows its last answer. */
async function healthyIn(ns: string, what: string): Promise<void> {
  let last = { code: 0, body: "" };
  await eventually(
    async () => {
      last = await healthzIn(ns);
      return last.code === 200;
    },
    what,
    { timeoutMs: 20_000 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; last answer ${last.code}: ${last.body}`);
  });
}

/**
 * /healthz of 127.0.0.1:healthPort inside `ns`: the status code and the body. Asynchronous: the
 * server answering is in this very process.
 */
async function healthzIn(ns: string): Promise<{ code: number; body: string }> {
  const r = await run(
    "ip",
    [
      "netns",
      "exec",
      ns,
      "curl",
      "-s",
      "-m",
      "5",
      "-w",
      "\n%{http_code}",
      `http://127.0.0.1:${healthPort}/healthz`,
    ],
    { encoding: "utf8" },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "\n0" }));
  const lines = r.stdout.trimEnd().split("\n");
  return { code: Number(lines.pop()), body: lines.join("\n") };
}

/** `ping` from `from`, up to 3 echoes (asynchronous, like everything that needs the hosted agents to run). */
async function ping(from: string, to: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ok = await run("ip", ["netns", "exec", from, "ping", "-c", "1", "-W", "2", "-q", to]).then(
      () => true,
      () => false,
    );
    if (ok) return true;
  }
  return false;
}

interface Node {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly stateDir: string;
  readonly logFile: string;
}

describe("agents hosted in one process, each for its node's namespace (issue 16)", () => {
  const nss = new TestNamespaces("host");
  const sandbox = new CniSandbox();
  const dir = mkdtempSync(join(tmpdir(), "strata-t-host-"));
  const pool = new SpawnPool(spawnHelperPath, 2, spawnProgram);
  const servers: DatastoreServer[] = [];
  const running: AbortController[] = [];
  let sw = "";
  let nodes = 0;

  before(async () => {
    await sandbox.install();
    sw = nss.create("sw");
    sh(sw, "link", "add", "name", "br0", "type", "bridge");
    sh(sw, "link", "set", "br0", "up");
  });
  after(async () => {
    for (const ac of running) ac.abort();
    await new Promise((r) => setTimeout(r, 500));
    for (const s of servers) await s.close();
    pool.close();
    nss.cleanup();
    sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A node namespace with eth0 on the underlay switch (192.168.77.0/24). */
  function addNode(): Node {
    const i = ++nodes;
    const name = `h${i}`;
    const ns = nss.create(name);
    const ip = `192.168.77.${10 + i}`;
    sh(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
    sh(ns, "addr", "add", `${ip}/24`, "dev", "eth0");
    sh(ns, "link", "set", "eth0", "up");
    sh(sw, "link", "set", `p${i}`, "master", "br0", "up");
    const stateDir = join(dir, name);
    return { name, ns, ip, stateDir, logFile: join(dir, `${name}.log`) };
  }

  async function datastore(label: string): Promise<string> {
    const socket = join(dir, `kv-${label}`, "kv.sock");
    servers.push(await serveDatastore(new EmbeddedStore({ dir: join(dir, `kv-${label}-data`) }), socket));
    return socket;
  }

  /** launchAgent for each node, in this process; `done` settles when each agent has stopped. */
  function host(list: readonly Node[], kv: string, args: readonly string[]) {
    const ac = new AbortController();
    running.push(ac);
    const done = list.map((n) =>
      launchAgent(
        [
          ...["--node", n.name, "--datastore", `embedded:${kv}`, "--underlay-dev", "eth0"],
          ...["--state-dir", n.stateDir, "--health-port", String(healthPort), "--cni-bin-dir", sandbox.bin],
          ...["--resync-interval", "2", "--log-level", "debug"],
          ...args,
        ],
        { netns: n.ns, logFile: n.logFile, pool },
        ac.signal,
      ),
    );
    // A start that fails must fail the test at once, not time it out.
    const failed = Promise.race(done.map((d) => d.then(() => new Promise<never>(() => {}))));
    return { ac, done, failed };
  }

  const routesIn = (ns: string) =>
    JSON.parse(
      execFileSync("ip", ["-n", ns, "-j", "route", "show", "proto", "147"], { encoding: "utf8" }) || "[]",
    ) as {
      dst: string;
      dev: string;
    }[];
  const subnetOf = (n: Node) =>
    (JSON.parse(readFileSync(join(n.stateDir, "subnet.json"), "utf8")) as { subnet: string }).subnet;

  test("vxlan: routes, device, CNI socket, /healthz and pods in each node's namespace; nothing in the root's", async () => {
    assert.equal(
      await rootAccepts(healthPort),
      false,
      `root's 127.0.0.1:${healthPort} must be free for this test`,
    );
    const before = rootState();
    const kv = await datastore("vxlan");
    const [a, b] = [addNode(), addNode()] as [Node, Node];
    const h = host([a, b], kv, ["--backend", "vxlan"]);
    await Promise.race([
      h.failed,
      eventually(
        () => existsSync(join(a.stateDir, "subnet.json")) && existsSync(join(b.stateDir, "subnet.json")),
        "both nodes leased",
        { timeoutMs: 30_000 },
      ),
    ]);
    const [sa, sb] = [subnetOf(a), subnetOf(b)];
    await eventually(
      () => routesIn(a.ns).some((r) => r.dst === sb) && routesIn(b.ns).some((r) => r.dst === sa),
      "each node routes (proto 147) to the other's pod subnet",
      { timeoutMs: 20_000 },
    );
    for (const n of [a, b]) {
      const vx = JSON.parse(
        execFileSync("ip", ["-n", n.ns, "-j", "-d", "link", "show", "type", "vxlan"], { encoding: "utf8" }),
      );
      assert.equal(vx.length, 1, `${n.name}: one vxlan device in its namespace`);
      assert.ok(existsSync(socketOf(n.ns)), `${n.name}: the CNI socket of its namespace's inode`);
      await healthyIn(n.ns, `${n.name}: /healthz ok inside its namespace`);
      assert.match((await healthzIn(n.ns)).body, new RegExp(`"node":"${n.name}"`));
      assert.match(inNs(n.ns, "ss", "-tln"), new RegExp(`127\\.0\\.0\\.1:${healthPort}\\b`));
    }
    assert.equal(await rootAccepts(healthPort), false, "no /healthz on the root namespace's 127.0.0.1");
    // Pods: the runtime execs the shim inside each node; the shim forwards to that node's hosted agent.
    const pods: string[] = [];
    for (const n of [a, b]) {
      const pod = nss.create(`${n.name}pod`);
      const conf = JSON.parse(readFileSync(join(n.stateDir, "10-strata.conflist"), "utf8")) as ConfList;
      const res = (await addNetworkList(
        conf,
        { containerId: `c-${n.name}`, netns: nss.path(pod), ifName: "eth0" },
        sandbox.runtime(n.ns),
      )) as { ips: { address: string }[] };
      const ip = (res.ips[0]?.address ?? "").split("/")[0] ?? "";
      pods.push(ip);
      assert.ok(
        ip.startsWith(subnetOf(n).split(".").slice(0, 3).join(".")),
        `${n.name}'s pod in its subnet: ${ip}`,
      );
      // The log is written asynchronously: the line arrives shortly after the answer.
      await eventually(
        () => readFileSync(n.logFile, "utf8").includes('"msg":"cni request"'),
        `${n.name}: the hosted agent served the ADD (its log says so)`,
      );
      assert.ok(
        JSON.parse(execFileSync("ip", ["-n", n.ns, "-j", "link", "show", "cni0"], { encoding: "utf8" }))
          .length === 1,
      );
    }
    const podA = nss.names.find((x) => x.includes("-h1pod-")) as string;
    assert.ok(await ping(podA, pods[1] as string), "pod on h1 → pod on h2 over vxlan");
    h.ac.abort();
    await Promise.all(h.done);
    for (const n of [a, b]) {
      assert.equal(existsSync(socketOf(n.ns)), false, `${n.name}: CNI socket removed at stop`);
      assert.match(readFileSync(n.logFile, "utf8"), /"msg":"agent stopped"/);
    }
    assert.equal(rootState(), before, "the root namespace's links and routes are as they were");
  });

  test("bgp full mesh: sessions Established and routes learned inside each node's namespace", async () => {
    const before = rootState();
    const kv = await datastore("bgp");
    const [a, b] = [addNode(), addNode()] as [Node, Node];
    const h = host([a, b], kv, ["--backend", "bgp"]);
    await Promise.race([
      h.failed,
      eventually(
        () => existsSync(join(a.stateDir, "subnet.json")) && existsSync(join(b.stateDir, "subnet.json")),
        "both nodes leased",
        { timeoutMs: 30_000 },
      ),
    ]);
    const [sa, sb] = [subnetOf(a), subnetOf(b)];
    await Promise.race([
      h.failed,
      eventually(
        () =>
          routesIn(a.ns).some((r) => r.dst === sb && JSON.stringify(r).includes(b.ip)) &&
          routesIn(b.ns).some((r) => r.dst === sa && JSON.stringify(r).includes(a.ip)),
        "each node learned the other's subnet over BGP, via the other's address",
        { timeoutMs: 30_000 },
      ),
    ]);
    for (const [n, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      await healthyIn(n.ns, `${n.name}: /healthz ok`);
      assert.match(
        (await healthzIn(n.ns)).body,
        /"bgpEstablished":1\b/,
        `${n.name}: its BGP session is Established`,
      );
      const ss = inNs(n.ns, "ss", "-tn", "state", "established", "( sport = :179 or dport = :179 )");
      assert.ok(ss.includes(peer.ip), `${n.name}: TCP session to ${peer.ip}:179 in its namespace:\n${ss}`);
    }
    const rootSs = execFileSync("ss", ["-tn", "( sport = :179 or dport = :179 )"], { encoding: "utf8" });
    assert.ok(
      !rootSs.includes(a.ip) && !rootSs.includes(b.ip),
      `no BGP session in the root namespace:\n${rootSs}`,
    );
    h.ac.abort();
    await Promise.all(h.done);
    assert.equal(rootState(), before, "the root namespace's links and routes are as they were");
  });

  for (const backend of ["host-gw", "vxlan-crosssubnet"])
    test(`${backend}: each node routes to the other's pod subnet via its address, in its own namespace`, async () => {
      const before = rootState();
      const kv = await datastore(backend);
      const [a, b] = [addNode(), addNode()] as [Node, Node];
      const h = host([a, b], kv, ["--backend", backend]);
      await Promise.race([
        h.failed,
        eventually(
          () => existsSync(join(a.stateDir, "subnet.json")) && existsSync(join(b.stateDir, "subnet.json")),
          "both nodes leased",
          { timeoutMs: 30_000 },
        ),
      ]);
      const [sa, sb] = [subnetOf(a), subnetOf(b)];
      // Same segment: a direct route via the peer's underlay address on eth0 (crosssubnet too).
      const via = (r: { dst: string; dev: string }, dst: string, peer: Node) =>
        r.dst === dst && r.dev === "eth0" && JSON.stringify(r).includes(peer.ip);
      await eventually(
        () => routesIn(a.ns).some((r) => via(r, sb, b)) && routesIn(b.ns).some((r) => via(r, sa, a)),
        "each node routes to the other's subnet via its underlay address",
        { timeoutMs: 20_000 },
      );
      for (const n of [a, b]) await healthyIn(n.ns, `${n.name}: /healthz ok`);
      h.ac.abort();
      await Promise.all(h.done);
      assert.equal(rootState(), before, "the root namespace's links, routes and nft rules are as they were");
    });

  test("a backend that needs its own process is refused in one line; so is a missing namespace", async () => {
    const n = addNode();
    const ac = new AbortController();
    for (const backend of ["sleeve", "wireguard", "ipip"]) {
      await assert.rejects(
        launchAgent(
          ["--node", "x", "--backend", backend, "--datastore", "embedded:/nonexistent"],
          { netns: n.ns },
          ac.signal,
        ),
        (err: unknown) =>
          err instanceof UsageError &&
          !err.message.includes("\n") &&
          err.message.includes(`the ${backend} backend cannot run for another network namespace`) &&
          err.message.includes("as its own process"),
      );
    }
    await assert.rejects(
      launchAgent(
        ["--node", "x", "--datastore", "embedded:/nonexistent"],
        { netns: "strata-t-no-such-ns" },
        ac.signal,
      ),
      /no network namespace \/run\/netns\/strata-t-no-such-ns/,
    );
    await assert.rejects(
      launchAgent(["--no-such-flag"], {}, ac.signal),
      (err: unknown) => err instanceof UsageError && /unknown option/.test(err.message),
    );
  });
});
