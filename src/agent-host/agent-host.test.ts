import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AgentHost, type AgentLauncher } from "./agent-host.js";
import { askHost, serveHostControl } from "./host-control.js";

const spec = {
  agents: ["n1", "n2", "n3"].map((node) => ({ node, netns: `t-${node}`, args: [], log: `/tmp/${node}.log` })),
};

/** A launcher whose agents run until stopped; n3's fails at once, as a bad flag would. */
function launcher(): { launch: AgentLauncher; live: Set<string> } {
  const live = new Set<string>();
  const launch: AgentLauncher = (a, signal) => {
    if (a.node === "n3") return Promise.reject(new Error("--underlay-dev: no such device"));
    live.add(a.node);
    return new Promise((resolve) =>
      signal.addEventListener("abort", () => {
        live.delete(a.node);
        resolve();
      }),
    );
  };
  return { launch, live };
}

test("agents start and stop one at a time; a failed one keeps its error and leaves the others running", async () => {
  const { launch, live } = launcher();
  const ended: string[] = [];
  const host = new AgentHost(spec, launch, (node, err) => ended.push(`${node}${err ? " failed" : ""}`));
  host.start("n1");
  host.start("n2");
  host.start("n3");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([...live].sort(), ["n1", "n2"]);
  const n3 = host.status().find((s) => s.node === "n3");
  assert.equal(n3?.phase, "failed");
  assert.match(n3?.error ?? "", /no such device/);
  assert.throws(() => host.start("n1"), /running; stop it first/);
  assert.throws(() => host.start("n9"), /no agent for n9/);
  await host.stop("n1");
  assert.deepEqual([...live], ["n2"]);
  assert.equal(host.status().find((s) => s.node === "n1")?.phase, "stopped");
  host.start("n1");
  assert.equal(host.status().find((s) => s.node === "n1")?.starts, 2);
  await host.stopAll();
  assert.equal(live.size, 0);
  assert.ok(ended.includes("n3 failed") && ended.filter((e) => e === "n1").length === 2);
});

test("the control socket starts, stops and reports; it refuses what the spec does not name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-host-"));
  const { launch, live } = launcher();
  const host = new AgentHost(spec, launch);
  const path = join(dir, "ctl", "h0.sock");
  const server = await serveHostControl(path, host);
  try {
    const started = await askHost(path, { op: "start", node: "n2" });
    assert.equal(started.agents.find((a) => a.node === "n2")?.phase, "running");
    assert.ok(live.has("n2"));
    await assert.rejects(askHost(path, { op: "start", node: "n7" }), /no agent for n7/);
    await askHost(path, { op: "stop", node: "n2" });
    assert.ok(!live.has("n2"));
    const st = await askHost(path, { op: "status" });
    assert.equal(st.agents.find((a) => a.node === "n2")?.phase, "stopped");
  } finally {
    server.close();
    await host.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
