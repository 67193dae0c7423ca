import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, ipJson, repoRoot } from "../../test/support/cni.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { CniError } from "../cni/errors.js";
import { addNetworkList, type ConfList } from "../cni/runtime-client.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { serveDatastore } from "../datastore/embedded/server.js";
import { cniSocketPath, defaultCniSocketDir } from "./cni-socket.js";

/**
 * The attacks of issue 8 on the agent's CNI entry, replayed: a local non-root user (uid 65534) in
 * the node's network namespace, a flood of half-sent requests, a squatted socket and port.
 * Each test also shows the legitimate path still works.
 */
const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
const cli = join(repoRoot, "bin/strata.js");
const socketOf = (ns: string) => cniSocketPath(defaultCniSocketDir, statSync(`/run/netns/${ns}`).ino);

/** Run a Node script inside a namespace, as root or as uid 65534. */
function nodeIn(ns: string, script: string, opts: { asNobody?: boolean; args?: string[] } = {}) {
  return spawnSync(
    "ip",
    [
      "netns",
      "exec",
      ns,
      ...(opts.asNobody ? nobody : []),
      process.execPath,
      "-e",
      script,
      ...(opts.args ?? []),
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
}

/** Exec a plugin executable the way a runtime would, optionally as uid 65534. */
function execPlugin(ns: string, plugin: string, env: Record<string, string>, conf: object, asNobody = false) {
  return spawnSync("ip", ["netns", "exec", ns, ...(asNobody ? nobody : []), plugin], {
    encoding: "utf8",
    input: JSON.stringify(conf),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    timeout: 20_000,
  });
}

interface Agent {
  proc: ChildProcess;
  log: string[];
}
function startAgent(ns: string, args: string[]): Promise<Agent> {
  const proc = spawn("ip", ["netns", "exec", ns, process.execPath, cli, "agent", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    const onData = (d: string) => {
      log.push(...d.split("\n").filter(Boolean));
      if (d.includes("agent serving CNI requests")) resolve({ proc, log });
    };
    proc.stdout?.setEncoding("utf8").on("data", onData);
    proc.stderr?.setEncoding("utf8").on("data", onData);
    proc.once("exit", (code) => reject(new Error(`agent exited early with ${code}: ${log.join("\n")}`)));
  });
}

/** Run an agent that must fail: its exit code and what it printed. */
function failingAgent(ns: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn("ip", ["netns", "exec", ns, process.execPath, cli, "agent", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    proc.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe("the agent's CNI entry: only root can make it act", () => {
  const nss = new TestNamespaces("cnisec");
  const sandbox = new CniSandbox();
  const evil = mkdtempSync(join(tmpdir(), "strata-t-evil-"));
  const marker = join(evil, "ran-as");
  const agents: ChildProcess[] = [];
  let host = "";
  let agent: Agent;
  const conf = (ipam: object = {}): ConfList => ({
    cniVersion: "1.1.0",
    name: "t-cnisec",
    plugins: [
      {
        type: "strata",
        ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.64.0.0/24" }]], dataDir: sandbox.data, ...ipam },
      },
    ],
  });
  const pluginConf = (ipam: object = {}) => ({
    cniVersion: "1.1.0",
    name: "t-cnisec",
    ...conf(ipam).plugins[0],
  });
  const cniEnv = (command: string, containerId: string, netns: string, cniPath = sandbox.bin) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: "eth0",
    CNI_PATH: cniPath,
  });

  before(async () => {
    await sandbox.install();
    // The plugins must be executable by the local user (as in /opt/cni/bin); the IPAM data is not theirs.
    chmodSync(sandbox.dir, 0o711);
    chmodSync(sandbox.bin, 0o755);
    // The attacker's own plugin directory and program.
    chmodSync(evil, 0o777);
    writeFileSync(join(evil, "x"), `#!/bin/sh\nid -u > ${marker}\necho '{"cniVersion":"1.1.0","ips":[]}'\n`);
    chmodSync(join(evil, "x"), 0o755);
    host = nss.create("host");
    agent = await startAgent(host, ["--cni-bin-dir", sandbox.bin, "--health-port", "9947"]);
    agents.push(agent.proc);
  });
  after(() => {
    for (const a of agents) a.kill("SIGKILL");
    nss.cleanup();
    sandbox.cleanup();
    rmSync(evil, { recursive: true, force: true });
  });

  test("the socket is 0600 in a 0700 root directory; a non-root user cannot connect, root can", () => {
    const path = socketOf(host);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(defaultCniSocketDir).mode & 0o777, 0o700);
    assert.equal(statSync(defaultCniSocketDir).uid, 0);
    const probe = `const s=require("net").connect(process.argv[1]);s.on("connect",()=>{console.log("CONNECTED");s.destroy()});s.on("error",e=>console.log(e.code))`;
    assert.equal(nodeIn(host, probe, { asNobody: true, args: [path] }).stdout.trim(), "EACCES");
    assert.equal(nodeIn(host, probe, { args: [path] }).stdout.trim(), "CONNECTED");
  });

  test("a non-root user's own IPAM program on its own CNI_PATH never runs as root", () => {
    const pod = nss.create("pod-x");
    const out = execPlugin(
      host,
      join(sandbox.bin, "strata"),
      cniEnv("ADD", "c-evil", nss.path(pod), evil),
      pluginConf({ type: "x" }),
      true,
    );
    assert.notEqual(out.status, 0, "a non-root caller cannot attach a pod");
    // The caller could not reach the agent, so the shim ran the plugin standalone, as the caller.
    if (existsSync(marker)) assert.equal(readFileSync(marker, "utf8").trim(), "65534");
    rmSync(marker, { force: true });
    assert.deepEqual(ipJson(pod, ["link", "show", "type", "veth"]), []);
  });

  test("even root's request cannot choose where the agent finds delegates: CNI_PATH is the agent's own", async () => {
    const pod = nss.create("pod-y");
    const out = execPlugin(
      host,
      join(sandbox.bin, "strata"),
      cniEnv("ADD", "c-evil-2", nss.path(pod), evil),
      pluginConf({ type: "x" }),
    );
    assert.equal(out.status, 1);
    const err = JSON.parse(out.stdout) as { code: number; msg: string };
    assert.equal(err.code, 7);
    assert.match(err.msg, /"x" was not found on CNI_PATH/);
    assert.equal(existsSync(marker), false, "the program from the request's CNI_PATH never ran");
    await eventually(
      async () => agent.log.some((l) => l.includes('"command":"ADD"') && l.includes('"exitCode":1')),
      "the agent served it (not the standalone plugin)",
    );
  });

  test("a non-root user cannot delete another pod's network; root can", async () => {
    const pod = nss.create("pod-del");
    const att = { containerId: "c-victim", netns: nss.path(pod), ifName: "eth0" };
    const res = (await addNetworkList(conf(), att, sandbox.runtime(host))) as { ips: { address: string }[] };
    const ip = (res.ips[0]?.address ?? "").split("/")[0] ?? "";
    assert.ok(canPing(host, ip));
    const del = execPlugin(
      host,
      join(sandbox.bin, "strata"),
      cniEnv("DEL", "c-victim", nss.path(pod)),
      pluginConf(),
      true,
    );
    assert.notEqual(del.status, 0);
    assert.ok(canPing(host, ip), "the pod still answers after the local user's DEL");
    assert.equal(
      sandbox.reservations("t-cnisec").filter((r) => r === ip).length,
      1,
      "its address is still reserved",
    );
    const rootDel = execPlugin(
      host,
      join(sandbox.bin, "strata"),
      cniEnv("DEL", "c-victim", nss.path(pod)),
      pluginConf(),
    );
    assert.equal(rootDel.status, 0, rootDel.stdout);
    assert.equal(canPing(host, ip), false);
  });

  test("a non-root user cannot attach an interface into another node's pod", () => {
    const otherNode = nss.create("n2");
    const otherPod = nss.create("n2-pod");
    const out = execPlugin(
      otherNode,
      join(sandbox.bin, "strata"),
      cniEnv("ADD", "c-cross", nss.path(otherPod)),
      pluginConf(),
      true,
    );
    assert.notEqual(out.status, 0);
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(otherPod, ["link", "show"]).map((l) => l.ifname),
      ["lo"],
    );
  });

  test("half-sent requests are bounded: ADD is answered code 11 at once, health stays up, service resumes", async () => {
    const busy = nss.create("busy");
    const a = await startAgent(busy, [
      ...["--cni-bin-dir", sandbox.bin, "--health-port", "9948"],
      ...["--cni-max-requests", "8", "--cni-read-timeout", "1500"],
    ]);
    agents.push(a.proc);
    // 300 connections that send half a request and then hold on (as root: a non-root user cannot connect at all).
    const flood = spawn(
      "ip",
      [
        ...["netns", "exec", busy, process.execPath, "-e"],
        `const net=require("net");let open=0;for(let i=0;i<300;i++){const s=net.connect(process.argv[1]);s.on("connect",()=>{s.write("STRATA-CNI 1\\nstrata\\nCNI_COMMAND=ADD");if(++open===300)console.log("READY")});s.on("error",()=>{});s.on("data",()=>{})}setTimeout(()=>process.exit(0),30000)`,
        socketOf(busy),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve) =>
        flood.stdout?.on("data", (d: Buffer) => d.includes("READY") && resolve()),
      );
      const pod = nss.create("pod-busy");
      const started = performance.now();
      await assert.rejects(
        addNetworkList(
          conf(),
          { containerId: "c-busy", netns: nss.path(pod), ifName: "eth0" },
          sandbox.runtime(busy),
        ),
        (e) => e instanceof CniError && e.cniCode === 11,
      );
      assert.ok(performance.now() - started < 3_000, "answered at once, not after a timeout");
      const metrics = nodeIn(
        busy,
        `fetch("http://127.0.0.1:9948/metrics").then(r=>r.text()).then(console.log)`,
      );
      const overload = /strata_cni_requests_rejected\{reason="overload"\} (\d+)/.exec(metrics.stdout);
      assert.ok(Number(overload?.[1]) > 0, metrics.stdout);
      const timeouts = /strata_cni_requests_rejected\{reason="timeout"\} (\d+)/.exec(metrics.stdout);
      assert.ok(timeouts, "timeouts are counted too");
      // The read deadline frees the slots: the same ADD goes through.
      await eventually(
        async () => {
          try {
            await addNetworkList(
              conf(),
              { containerId: "c-busy", netns: nss.path(pod), ifName: "eth0" },
              sandbox.runtime(busy),
            );
            return true;
          } catch (e) {
            if (e instanceof CniError && e.cniCode === 11) return false;
            throw e;
          }
        },
        "ADD served after the half-sent requests timed out",
        { timeoutMs: 15_000 },
      );
      assert.equal(ipJson<unknown[]>(pod, ["link", "show", "type", "veth"]).length, 1);
    } finally {
      flood.kill("SIGKILL");
    }
  });

  test("a listener that is not root receives nothing from the shim, which runs standalone", async () => {
    const node3 = nss.create("n3");
    const pod = nss.create("n3-pod");
    // A non-root process listening where the agent's socket would be (as if the directory had been
    // left open), and one on the old abstract name.
    const squat = mkdtempSync(join(tmpdir(), "strata-t-squat-"));
    chmodSync(squat, 0o777);
    const got = join(squat, "got");
    const listener = spawn(
      "ip",
      [
        ...["netns", "exec", node3, ...nobody, process.execPath, "-e"],
        `const net=require("net"),fs=require("fs");let n=0;for(const p of [process.argv[1]+"/s.sock","\\0strata-cni"]){net.createServer(c=>c.on("data",d=>{n+=d.length;fs.writeFileSync(process.argv[1]+"/got",String(n))})).listen(p,()=>{})}console.log("LISTENING")`,
        squat,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const path = socketOf(node3);
    try {
      await new Promise<void>((resolve) => listener.stdout?.on("data", () => resolve()));
      await eventually(async () => existsSync(join(squat, "s.sock")), "squatter listening");
      renameSync(join(squat, "s.sock"), path);
      const out = execPlugin(
        node3,
        join(sandbox.bin, "strata"),
        cniEnv("ADD", "c-squat", nss.path(pod)),
        pluginConf(),
      );
      assert.equal(out.status, 0, out.stdout + out.stderr);
      assert.match(out.stderr, /not served by root/);
      assert.equal(existsSync(got), false, "the squatter received not one byte");
      assert.equal(
        ipJson<unknown[]>(pod, ["link", "show", "type", "veth"]).length,
        1,
        "standalone ADD worked",
      );
    } finally {
      listener.kill("SIGKILL");
      rmSync(path, { force: true });
      rmSync(squat, { recursive: true, force: true });
    }
  });

  test("a taken socket or health port fails the agent before it leases, in one line; a running agent is untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-t-kv-"));
    const store = new EmbeddedStore({ dir });
    const kvSocket = join(dir, "kv.sock");
    const kv = await serveDatastore(store, kvSocket);
    const node = nss.create("n4");
    execFileSync("ip", ["-n", node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    execFileSync("ip", ["-n", node, "addr", "add", "192.168.77.2/24", "dev", "eth0"]);
    execFileSync("ip", ["-n", node, "link", "set", "eth0", "up"]);
    execFileSync("ip", ["-n", node, "link", "set", "eth0p", "up"]);
    const args = [
      ...["--node", "n4", "--backend", "host-gw", "--datastore", `embedded:${kvSocket}`],
      ...["--cni-bin-dir", sandbox.bin, "--health-port", "9949"],
    ];
    const squatter = spawn(
      "ip",
      [
        ...["netns", "exec", node, ...nobody, process.execPath, "-e"],
        `require("http").createServer((q,r)=>r.end("fake")).listen(9949,"127.0.0.1",()=>console.log("LISTENING"))`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve) => squatter.stdout?.on("data", () => resolve()));
      const failed = await failingAgent(node, args);
      assert.equal(failed.code, 1);
      assert.deepEqual(failed.stderr.trim().split("\n"), [
        "strata: cannot serve /healthz on 127.0.0.1:9949: the port is already in use by another process (pick another --health-port)",
      ]);
      assert.equal((await store.list("/strata/subnets/")).items.length, 0, "nothing was leased");
      squatter.kill("SIGKILL");
      await new Promise((r) => squatter.once("exit", r));
      const first = await startAgent(node, args);
      agents.push(first.proc);
      await eventually(async () => (await store.list("/strata/subnets/")).items.length === 1, "n4 leased");
      const second = await failingAgent(node, [...args, "--health-port", "9950"]);
      assert.equal(second.code, 1);
      assert.match(
        second.stderr.trim(),
        /^strata: another strata agent already serves CNI requests in this network namespace/,
      );
      assert.equal(second.stderr.trim().split("\n").length, 1);
      const health = nodeIn(
        node,
        `fetch("http://127.0.0.1:9949/healthz").then(r=>r.json()).then(j=>console.log(j.ok))`,
      );
      assert.equal(health.stdout.trim(), "true", "the running agent still serves");
      assert.equal((await store.list("/strata/subnets/")).items.length, 1);
    } finally {
      squatter.kill("SIGKILL");
      kv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
