import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, ipJson, repoRoot } from "../../test/support/cni.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { addNetworkList, type ConfList, delNetworkList } from "../cni/runtime-client.js";
import { eventually } from "../common/eventually.js";

function startAgent(hostNs: string, cniBinDir: string): Promise<{ proc: ChildProcess; log: string[] }> {
  const proc = spawn(
    "ip",
    [
      ...["netns", "exec", hostNs, process.execPath, join(repoRoot, "bin/strata.js"), "agent"],
      ...["--cni-bin-dir", cniBinDir],
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      log.push(...d.split("\n").filter(Boolean));
      if (d.includes("agent serving CNI requests")) resolve({ proc, log });
    });
    proc.once("exit", (code) => reject(new Error(`agent exited early with ${code}`)));
  });
}

const conf = (sandbox: CniSandbox): ConfList => ({
  cniVersion: "1.1.0",
  name: "t-agent",
  plugins: [
    {
      type: "strata",
      ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.63.0.0/24" }]], dataDir: sandbox.data },
    },
  ],
});

describe("agent fast path", () => {
  const nss = new TestNamespaces("agent");
  const sandbox = new CniSandbox();
  let host = "";
  const agents: ChildProcess[] = [];
  before(async () => {
    await sandbox.install();
    host = nss.create("host");
  });
  after(() => {
    for (const a of agents) a.kill("SIGKILL");
    nss.cleanup();
    sandbox.cleanup();
  });

  test("the shim forwards ADD to the agent; DEL works after the agent is killed -9", async () => {
    const agent = await startAgent(host, sandbox.bin);
    agents.push(agent.proc);
    const pod = nss.create("pod");
    const att = { containerId: "c-agent-1", netns: nss.path(pod), ifName: "eth0" };
    const rt = sandbox.runtime(host);
    const res = (await addNetworkList(conf(sandbox), att, rt)) as { ips: { address: string }[] };
    assert.match(res.ips[0]?.address ?? "", /^10\.63\.0\./);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      agent.log.some((l) => l.includes('"command":"ADD"')),
      "the agent served the ADD (not the standalone plugin)",
    );
    agent.proc.kill("SIGKILL");
    await new Promise((r) => agent.proc.once("exit", r));
    await delNetworkList(conf(sandbox), att, rt, res);
    assert.equal(sandbox.reservations("t-agent").length, 0);
    assert.deepEqual(ipJson(pod, ["link", "show", "type", "veth"]), []);
  });

  test("50 parallel ADDs through the agent: no duplicate address, no leak after DEL", async () => {
    const agent = await startAgent(host, sandbox.bin);
    agents.push(agent.proc);
    const rt = sandbox.runtime(host);
    const pods = Array.from({ length: 50 }, (_, i) => ({ i, ns: nss.create(`p${i}`) }));
    const results = await Promise.all(
      pods.map(({ i, ns }) =>
        addNetworkList(conf(sandbox), { containerId: `c-par-${i}`, netns: nss.path(ns), ifName: "eth0" }, rt),
      ),
    );
    const addrs = results.map((r) => (r as { ips: { address: string }[] }).ips[0]?.address);
    assert.equal(new Set(addrs).size, 50, "every pod got its own address");
    assert.equal(sandbox.reservations("t-agent").length, 50);
    const hostVeths = ipJson<{ ifname: string; master?: string }[]>(host, ["link", "show", "type", "veth"]);
    assert.equal(hostVeths.length, 50);
    assert.ok(hostVeths.every((l) => l.master === "cni0"));
    await Promise.all(
      pods.map(({ i, ns }) =>
        delNetworkList(conf(sandbox), { containerId: `c-par-${i}`, netns: nss.path(ns), ifName: "eth0" }, rt),
      ),
    );
    assert.equal(sandbox.reservations("t-agent").length, 0);
    // The agent answers DEL once the pod is cut off (host veth down) and deletes the pair right after.
    const left = ipJson<{ flags: string[] }[]>(host, ["link", "show", "type", "veth"]);
    assert.ok(
      left.every((l) => !l.flags.includes("UP")),
      "every remaining host veth is down when DEL returns",
    );
    await eventually(
      () => ipJson<unknown[]>(host, ["link", "show", "type", "veth"]).length === 0,
      "veths deleted",
    );
  });
});
