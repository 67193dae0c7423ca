import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { eventually } from "../common/eventually.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { runProgram } from "../process/run-program.js";
import { agentHealth } from "./agent-health.js";
import { runChecks } from "./check.js";
import { labDown, labUp } from "./runner.js";
import { labDir } from "./state.js";

const kernel = createIproute2Kernel();
const paths = labPaths();

interface WgHealth {
  backend?: {
    datapath?: string;
    datapathReason?: string;
    publicKey?: string;
    wireguardGo?: { pid?: number; restarts: number };
  };
}
const wgHealth = async (ns: string) => ((await agentHealth(kernel, ns)).body ?? {}) as WgHealth;
const pingOnce = async (from: string, to: string) =>
  (await kernel.exec(namedNetns(from), ["ping", "-c", "1", "-W", "1", "-q", to])).code === 0;

describe("the wireguard model", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  for (const underlay of ["l2", "l3"] as const)
    test(`wireguard on ${underlay}: every check passes (DF pings at pod MTU = underlay − 60); between nodes the underlay carries only UDP/51820 and never a pod's marker in plaintext`, async () => {
      const state = await labUp(kernel, labSpec({ model: "wireguard", underlay }), paths, quietProgress);
      const results = await runChecks(kernel, state);
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
      );
      assert.ok(results.some((r) => r.kind === "encrypted on the underlay" && r.ok));
      assert.ok(results.some((r) => r.kind === "MTU (DF, full size)"));
      for (const n of state.nodes) assert.equal(n.podMtu, 1440, n.name);
      // The agent says which datapath it uses and why (this kernel has no wireguard module).
      const h = await wgHealth(state.nodes[0]?.ns ?? "");
      assert.match(h.backend?.datapath ?? "", /^(kernel|wireguard-go)$/);
      assert.ok(h.backend?.datapathReason);
      await labDown(kernel);
    });

  test("wireguard: wireguard-go killed → the agent restarts it and pods talk again; `strata agent rotate-key` under 100 pings/s: the new key is published and counted losses are reported", async () => {
    const state = await labUp(
      kernel,
      labSpec({ model: "wireguard", nodes: 2, podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    const [a, b] = state.pods;
    const [n1] = state.nodes;
    assert.ok(a && b && n1);
    await eventually(
      async () => (await pingOnce(a.ns, b.ip)) && (await pingOnce(b.ns, a.ip)),
      "pods reach each other",
      {
        timeoutMs: 15_000,
      },
    );
    const pid = (await wgHealth(n1.ns)).backend?.wireguardGo?.pid;
    assert.ok(pid, "n1's health names its wireguard-go");
    process.kill(pid, "SIGKILL");
    await eventually(
      async () => {
        const g = (await wgHealth(n1.ns)).backend?.wireguardGo;
        return (g?.restarts ?? 0) >= 1 && g?.pid !== pid;
      },
      "wireguard-go restarted",
      { timeoutMs: 15_000 },
    );
    await eventually(
      async () => (await pingOnce(a.ns, b.ip)) && (await pingOnce(b.ns, a.ip)),
      "pods reach each other again",
      {
        timeoutMs: 15_000,
      },
    );

    const before = (await wgHealth(n1.ns)).backend?.publicKey;
    const pinger = spawn("ip", [
      "netns",
      "exec",
      b.ns,
      "ping",
      "-i",
      "0.01",
      "-c",
      "400",
      "-W",
      "1",
      "-q",
      a.ip,
    ]);
    let out = "";
    pinger.stdout.on("data", (d) => (out += d));
    const done = new Promise((r) => pinger.on("close", r));
    await new Promise((r) => setTimeout(r, 1_000));
    const rotate = await runProgram([
      paths.nodePath,
      paths.cliScript,
      "agent",
      "rotate-key",
      "--state-dir",
      join(labDir, n1.name),
    ]);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /^rotated: public key \S{44} \(was \S{44}\)/);
    await done;
    const after = (await wgHealth(n1.ns)).backend?.publicKey;
    assert.ok(after && after !== before, "n1 uses a new key");
    assert.ok(rotate.stdout.includes(after));
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(m, out);
    const lost = Number(m[1]) - Number(m[2]);
    console.log(
      `# lab: rotation under 100 pings/s (n2-p1 → n1-p1): lost ${lost} of ${m[1]}; ${/rtt [^\n]*/.exec(out)?.[0] ?? ""}`,
    );
    assert.ok(lost <= 40, `lost ${lost} of ${m[1]}`);
    assert.ok((await pingOnce(a.ns, b.ip)) && (await pingOnce(b.ns, a.ip)));
    await labDown(kernel);
  });
});
