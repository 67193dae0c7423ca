import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { eventually } from "../common/eventually.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { identify, isAlive } from "../process/process-identity.js";
import { agentHealth } from "./agent-health.js";
import { countBgpSessions } from "./bgp-status.js";
import { runChecks } from "./check.js";
import { startRecordedProcess, stopRecordedProcess } from "./control.js";
import { labDown, labUp, stopDatastore } from "./runner.js";
import {
  type LabProcess,
  type LabState,
  labDir,
  labProcess,
  readLabStateSync,
  writeLabState,
} from "./state.js";
import type { LabStatusReport } from "./status.js";
import { underlayNs } from "./topology.js";

const kernel = createIproute2Kernel();
const paths = labPaths();

/** An agent's /healthz body, whatever its HTTP status (503 carries the reasons too). */
async function health(
  ns: string,
): Promise<{ unreachable: { node: string; reason: string }[]; subnet?: string }> {
  const h = await agentHealth(kernel, ns);
  if (h.body === undefined) throw new Error(`the agent in ${ns} did not answer /healthz`);
  return h.body as { unreachable: { node: string; reason: string }[]; subnet?: string };
}

describe("the lab (agents as processes, one per node namespace)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  // Every model on both underlays with both datastores (host-gw on l3 has its own test below).
  const matrix = (["host-gw", "vxlan", "vxlan-crosssubnet"] as const).flatMap((model) =>
    (["l2", "l3"] as const).flatMap((underlay) =>
      (["embedded", "etcd"] as const).map((datastore) => labSpec({ model, underlay, datastore })),
    ),
  );
  for (const s of matrix.filter((m) => !(m.model === "host-gw" && m.underlay === "l3"))) {
    test(`${s.model} on ${s.underlay} with ${s.datastore}: every check passes`, async () => {
      const state = await labUp(kernel, s, paths, quietProgress);
      const results = await runChecks(kernel, state);
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
      );
      assert.ok(results.length >= 15);
      // The datastore's own boundary is among the checks: a pod cannot write to etcd (no client
      // certificate), a non-root user cannot reach the embedded store's socket.
      const boundary = results.find((r) => r.kind.startsWith("datastore refuses"));
      assert.equal(
        boundary?.kind,
        s.datastore === "etcd" ? "datastore refuses pods" : "datastore refuses non-root",
      );
      await labDown(kernel);
    });
  }

  // bgp: full mesh and route reflectors on l2, the router as reflector on l3.
  for (const s of [
    labSpec({ model: "bgp" }),
    labSpec({ model: "bgp", nodes: 5, podsPerNode: 1, routeReflectors: 2, datastore: "etcd" }),
    labSpec({ model: "bgp", nodes: 4, podsPerNode: 1, underlay: "l3" }),
  ]) {
    const label = `bgp on ${s.underlay}${s.routeReflectors ? ` with ${s.routeReflectors} route reflectors` : ""}`;
    test(`${label}: every check passes, the kernel holds the expected sessions, a dead agent's routes stay, a removed node is withdrawn`, async () => {
      const state = await labUp(kernel, s, paths, quietProgress);
      const results = await runChecks(kernel, state);
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
      );
      const sessions = await countBgpSessions(kernel, state);
      assert.equal(sessions.total, sessions.expected, JSON.stringify(sessions.ends));
      // The last node goes away: everyone else's route to its pods goes with it.
      const gone = state.nodes.at(-1);
      const first = state.nodes[0];
      assert.ok(gone && first && gone !== first);
      const routesOf = async () =>
        (await kernel.routes(namedNetns(first.ns), { family: 4 })).map((r) => r.dst);
      assert.ok((await routesOf()).includes(gone.subnet));
      // Its agent dies: the BGP session goes, the route stays (the node's kernel still forwards
      // and its lease stands; issue 9) — past the hold time (9 s) too.
      process.kill(gone.pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 12_000));
      assert.ok((await routesOf()).includes(gone.subnet), "a dead agent's route is kept");
      // The node is removed (from a node's namespace: etcd listens on the underlay): everyone
      // else's route to its pods goes.
      execFileSync("ip", [
        ...["netns", "exec", first.ns, process.execPath, paths.cliScript],
        ...["node", "remove", gone.name, ...state.agentDatastoreArgs],
      ]);
      await eventually(async () => !(await routesOf()).includes(gone.subnet), "route withdrawn", {
        timeoutMs: 12_000,
      });
      await labDown(kernel);
    });
  }

  test("host-gw on an l3 underlay is reported as not workable, with no black-hole route", async () => {
    const state = await labUp(
      kernel,
      labSpec({ model: "host-gw", underlay: "l3", podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    const n1 = state.nodes[0];
    const n2 = state.nodes[1];
    assert.ok(n1 && n2);
    const h = await health(n1.ns);
    assert.equal(h.unreachable[0]?.node, "n2");
    assert.match(h.unreachable[0]?.reason ?? "", /shared L2 segment/);
    const routes = await kernel.routes(namedNetns(n1.ns), { family: 4 });
    assert.equal(
      routes.some((r) => r.dst === n2.subnet),
      false,
    );
    await labDown(kernel);
  });

  for (const datastore of ["etcd", "embedded"] as const) {
    test(`a ${datastore} outage and restart: traffic keeps flowing and every check passes again`, async () => {
      const state = await labUp(
        kernel,
        labSpec({ model: "vxlan", nodes: 2, podsPerNode: 1, datastore }),
        paths,
        quietProgress,
      );
      const [a, b] = state.pods;
      assert.ok(a && b);
      const pinger = kernel.exec(namedNetns(a.ns), ["ping", "-i", "0.05", "-w", "4", "-q", b.ip]);
      await new Promise((r) => setTimeout(r, 300));
      const start = stopDatastore(state);
      await new Promise((r) => setTimeout(r, 1500));
      await start();
      const out = (await pinger).stdout;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      assert.ok(m, out);
      assert.ok(
        Number(m[1]) - Number(m[2]) <= 1,
        `lost ${Number(m[1]) - Number(m[2])} of ${m[1]} pings during the outage`,
      );
      // After the restart the agents are still leased and serving: every check passes again.
      await new Promise((r) => setTimeout(r, 2500));
      const results = await runChecks(kernel, state);
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
      );
      await labDown(kernel);
    });
  }

  test("an agent killed -9 and restarted keeps its subnet; running traffic is not interrupted", async () => {
    const state = await labUp(
      kernel,
      labSpec({ model: "vxlan", nodes: 2, podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    const [a, b] = state.pods;
    const n1 = state.nodes[0];
    assert.ok(a && b && n1);
    // ping every 50 ms for 4 s while node 1's agent is killed and started again
    const pinger = kernel.exec(namedNetns(a.ns), ["ping", "-i", "0.05", "-w", "4", "-q", b.ip]);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(n1.pid, "SIGKILL");
    const { spawn } = await import("node:child_process");
    const restarted = spawn(
      "ip",
      [
        "netns",
        "exec",
        n1.ns,
        process.execPath,
        paths.cliScript,
        "agent",
        "--node",
        "n1",
        "--backend",
        "vxlan",
        ...state.agentDatastoreArgs,
        "--state-dir",
        "/run/strata-lab/n1",
      ],
      { stdio: "ignore", detached: true },
    );
    restarted.unref();
    const out = (await pinger).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(m, out);
    const lost = Number(m[1]) - Number(m[2]);
    assert.ok(lost <= 1, `lost ${lost} of ${m[1]} pings during the agent restart`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await health(n1.ns)).subnet, n1.subnet, "same subnet after restart");
    process.kill(restarted.pid ?? 0, "SIGKILL");
    await labDown(kernel);
  });
});

const cli = (...argv: string[]) =>
  spawnSync(process.execPath, [paths.cliScript, ...argv], { encoding: "utf8", timeout: 120_000 });

/** Processes anywhere on the machine whose command line names the lab's directory. */
function processesNamingLabDir(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`${labDir}/`)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

async function nothingLeft(recorded: readonly LabProcess[]): Promise<void> {
  assert.deepEqual(
    (await kernel.netns.list()).filter((n) => n.startsWith("strata-lab-")),
    [],
    "no lab namespaces",
  );
  assert.equal(existsSync(labDir), false, `${labDir} removed`);
  for (const p of recorded)
    if (p.running)
      assert.equal(isAlive({ ...p.running, argv: p.argv }), false, `${p.role} ${p.node ?? ""} ended`);
  assert.deepEqual(processesNamingLabDir(), [], "no process left that names the lab's directory");
}

describe("the lab's own processes", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("lab down leaves alone a process whose PID a stale state file names (PID reuse)", async () => {
    await labDown(kernel);
    const unrelated = spawn("sleep", ["300"], { stdio: "ignore" });
    try {
      const pid = unrelated.pid ?? 0;
      const id = identify(pid);
      assert.ok(id);
      mkdirSync(labDir, { recursive: true });
      const agentArgv = ["ip", "netns", "exec", "strata-lab-n1", process.execPath, paths.cliScript, "agent"];
      const stale: LabState = {
        ...{ spec: labSpec({ nodes: 1 }), complete: true, nodes: [], pods: [], agentDatastoreArgs: [] },
        processes: [
          // The PID with another start time: the lab's agent died, the PID was reused.
          { role: "agent", node: "n1", argv: agentArgv, log: "/dev/null", running: { pid, startTime: "1" } },
          // The same start time but another program: a state file that names something else.
          { role: "datastore", argv: [process.execPath, "datastore"], log: "/dev/null", running: id },
        ],
      };
      writeLabState(stale);
      const r = cli("lab", "down");
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`left alone: pid ${pid} \\(recorded as the agent of n1\\)`));
      assert.match(r.stdout, new RegExp(`left alone: pid ${pid} \\(recorded as the datastore\\)`));
      assert.equal(unrelated.exitCode, null);
      assert.equal(isAlive({ ...id, argv: ["sleep", "300"] }), true, "the unrelated sleep still runs");
      assert.equal(existsSync(labDir), false);
    } finally {
      unrelated.kill("SIGKILL");
    }
  });

  // SIGINT or SIGTERM while `lab up` builds: everything built so far goes, exit 128 + signal.
  const moments: [string, RegExp, "SIGINT" | "SIGTERM", string[]][] = [
    ["before the datastore (namespaces being built)", /▸ building the l2 underlay/, "SIGTERM", []],
    ["while the datastore starts", /▸ starting the embedded datastore/, "SIGINT", []],
    [
      "after the agents started",
      /starting 2 strata agents \(vxlan[^)]*\) … done/,
      "SIGTERM",
      ["--datastore", "etcd"],
    ],
    ["while pods are attached", /▸ attaching 2 pods/, "SIGINT", []],
  ];
  for (const [moment, marker, sig, extra] of moments) {
    test(`${sig} ${moment}: lab up removes what it built and exits ${sig === "SIGINT" ? 130 : 143}`, async () => {
      await labDown(kernel);
      const up = spawn(
        process.execPath,
        [paths.cliScript, "lab", "up", "--nodes", "2", "--pods", "1", ...extra],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      let recorded: readonly LabProcess[] = [];
      up.stderr.setEncoding("utf8");
      up.stderr.on("data", (chunk: string) => {
        const before = stderr;
        stderr += chunk;
        if (!marker.test(before) && marker.test(stderr)) {
          recorded = readLabStateSync()?.processes ?? [];
          up.kill(sig);
        }
      });
      const [code] = (await once(up, "exit")) as [number | null];
      assert.ok(marker.test(stderr), stderr);
      assert.equal(code, sig === "SIGINT" ? 130 : 143, stderr);
      assert.match(stderr, new RegExp(`${sig}: stopping; removing what was built`));
      // The processes started up to the signal were in the state file at that moment.
      if (moment.startsWith("after") || moment.startsWith("while pods")) {
        assert.equal(
          recorded.filter((p) => p.role === "agent" && p.running).length,
          2,
          JSON.stringify(recorded),
        );
        assert.ok(recorded.some((p) => p.role === "datastore" && p.running));
      }
      await nothingLeft(recorded);
    });
  }

  test("lab status --json, lab agent stop|start|restart, lab datastore stop|start", async () => {
    const state = await labUp(kernel, labSpec({ nodes: 2, podsPerNode: 1 }), paths, quietProgress);
    const [a, b] = state.pods;
    assert.ok(a && b);
    const status = (): LabStatusReport => {
      const r = cli("lab", "status", "--json");
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as LabStatusReport;
    };
    const agentOf = (s: LabStatusReport, node: string) => s.nodes.find((n) => n.name === node)?.agent;
    const subnetOf = (agent: { health?: unknown } | undefined) =>
      (agent?.health as { subnet?: string } | undefined)?.subnet;

    const first = status();
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.deepEqual(
      first.nodes.map((n) => [n.name, n.subnet, n.agent.alive, n.agent.httpStatus]),
      state.nodes.map((n) => [n.name, n.subnet, true, 200]),
    );
    // The agent's own /healthz body, passed on as it reports it.
    assert.equal(subnetOf(first.nodes[0]?.agent), state.nodes[0]?.subnet);
    assert.deepEqual(
      first.pods.map((p) => [p.name, p.ip, p.present]),
      state.pods.map((p) => [p.name, p.ip, true]),
    );
    assert.equal(first.datastore.alive, true);
    assert.equal(first.processes.length, 3);
    const table = cli("lab", "status");
    assert.match(table.stdout, /^n1 +192\.168\.10\.11 +10\.244\.\d+\.0\/24 +\d+ +healthy$/m);

    // A crash of n1's agent: status says so, traffic between pods keeps flowing.
    const oldPid = agentOf(first, "n1")?.pid;
    const n1Before = readLabStateSync()?.processes.find((p) => p.role === "agent" && p.node === "n1");
    assert.equal(cli("lab", "agent", "stop", "n1", "--kill").status, 0);
    const stopped = status();
    assert.deepEqual(agentOf(stopped, "n1"), { alive: false, healthy: false });
    assert.equal(stopped.ok, false);
    assert.ok(n1Before?.running);
    assert.equal(isAlive({ ...n1Before.running, argv: n1Before.argv }), false, "the old agent is gone");
    const ping = await kernel.exec(namedNetns(a.ns), ["ping", "-c", "2", "-i", "0.2", "-W", "1", b.ip]);
    assert.equal(ping.code, 0, "pods still reach each other with n1's agent down");

    // Started again with the recorded command line: healthy, with the same subnet.
    assert.equal(cli("lab", "agent", "start", "n1").status, 0);
    await eventually(async () => agentOf(status(), "n1")?.healthy === true, "n1's agent healthy again", {
      timeoutMs: 20_000,
    });
    const restartedPid = agentOf(status(), "n1")?.pid;
    assert.ok(restartedPid && restartedPid !== oldPid);
    assert.equal(subnetOf(agentOf(status(), "n1")), state.nodes[0]?.subnet, "the same subnet as before");
    // Starting a running agent is refused (exit 1), restart (SIGTERM) gives a new process.
    const twice = cli("lab", "agent", "start", "n1");
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /the agent of n1 is already running/);
    assert.equal(cli("lab", "agent", "restart", "n1").status, 0);
    const afterRestart = agentOf(status(), "n1")?.pid;
    assert.ok(afterRestart && afterRestart !== restartedPid);

    // The datastore: an outage and back.
    assert.equal(cli("lab", "datastore", "stop").status, 0);
    assert.equal(status().datastore.alive, false);
    assert.equal(cli("lab", "datastore", "start").status, 0);
    const back = status();
    assert.equal(back.datastore.alive, true);

    // A node that is not the lab's: one line, exit 2, nothing touched.
    const bad = cli("lab", "agent", "stop", "n7");
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.trim(), 'strata: NODE: "n7" is not a node of the lab (n1, n2)');
    assert.equal(agentOf(status(), "n2")?.alive, true);

    const recorded = readLabStateSync()?.processes ?? [];
    await labDown(kernel);
    await nothingLeft(recorded);
  });
});

/**
 * tcpdump in the underlay namespace while `traffic` runs: the lines it decoded for packets that
 * match `filter` (a kernel capture filter such as `ip proto 4`).
 */
async function underlayCapture(filter: string, traffic: () => Promise<unknown>): Promise<string[]> {
  const dump = spawn("ip", ["netns", "exec", underlayNs, "tcpdump", "-n", "-l", "-i", "any", filter], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  dump.stdout.on("data", (d) => (out += d));
  dump.stderr.on("data", (d) => (err += d));
  await eventually(() => /listening on/.test(err), "tcpdump listening", { timeoutMs: 10_000 });
  try {
    await traffic();
  } finally {
    // Our own tcpdump, by its PID.
    dump.kill("SIGINT");
    await once(dump, "close");
  }
  return out.split("\n").filter(Boolean);
}

const ping = (from: string, to: string) =>
  kernel.exec(namedNetns(from), ["ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", to]);

describe("IPIP and GRE models", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  for (const model of ["ipip", "ipip-crosssubnet", "gre", "gre-crosssubnet"] as const)
    for (const underlay of ["l2", "l3"] as const) {
      const overhead = model.startsWith("gre") ? 24 : 20;
      test(`${model} on ${underlay}: pods attached routed; every check passes (DF pings at pod MTU = underlay − ${overhead}); the underlay carries IP protocol ${model.startsWith("gre") ? 47 : 4} decoded by tcpdump where it tunnels, bare packets where it routes`, async () => {
        const state = await labUp(kernel, labSpec({ model, underlay }), paths, quietProgress);
        const results = await runChecks(kernel, state);
        assert.deepEqual(
          results.filter((r) => !r.ok),
          [],
        );
        assert.ok(results.some((r) => r.kind === "MTU (DF, full size)"));
        for (const n of state.nodes) assert.equal(n.podMtu, 1500 - overhead, n.name);
        // The agent says which datapath it chose and why.
        const h = (await agentHealth(kernel, state.nodes[0]?.ns ?? "")).body as {
          backend?: { datapath?: string; datapathReason?: string };
          podAttachment?: string;
        };
        assert.equal(h.podAttachment, "routed");
        assert.match(h.backend?.datapath ?? "", /^(kernel|bpf)$/);
        assert.ok(h.backend?.datapathReason);
        // Pods attach routed (Calico's design): a /32 route per pod on its own veth, no cni0.
        for (const n of state.nodes) {
          assert.equal(await kernel.link(namedNetns(n.ns), "cni0"), undefined, n.name);
          const own = state.pods.filter((p) => p.node === n.name).map((p) => `${p.ip}/32`);
          const routes = (await kernel.routes(namedNetns(n.ns), { family: 4 })).map((r) => r.dst);
          for (const dst of own) assert.ok(routes.includes(dst), `${n.name}: no route ${dst} in ${routes}`);
        }

        const [n1, n2] = state.nodes;
        const a = state.pods.find((p) => p.node === n1?.name);
        const b = state.pods.find((p) => p.node === n2?.name);
        assert.ok(n1 && n2 && a && b);
        const proto = model.startsWith("gre") ? 47 : 4;
        const lines = await underlayCapture(`ip proto ${proto}`, () => ping(a.ns, b.ip));
        // l2: n1 and n2 share a subnet; l3: odd and even nodes sit behind the router.
        const tunnels = !model.endsWith("crosssubnet") || underlay === "l3";
        const inner = new RegExp(
          `IP ${n1.ip.replaceAll(".", "\\.")} > ${n2.ip.replaceAll(".", "\\.")}: (GREv0, .*: )?IP ${a.ip.replaceAll(".", "\\.")} > ${b.ip.replaceAll(".", "\\.")}: ICMP echo request`,
        );
        if (tunnels)
          assert.ok(
            lines.some((l) => inner.test(l)),
            `no ${inner} in:\n${lines.join("\n")}`,
          );
        else {
          assert.deepEqual(lines, [], "no encapsulation between nodes on one subnet");
          const bare = await underlayCapture(`icmp and host ${b.ip}`, () => ping(a.ns, b.ip));
          assert.ok(
            bare.some((l) => l.includes(`IP ${a.ip} > ${b.ip}: ICMP echo request`)),
            bare.join("\n"),
          );
        }
        await labDown(kernel);
      });
    }

  // Graceful restart (RFC 4724): the restarted agent keeps its kernel routes until End-of-RIB, the
  // other node (l2) or the router (l3) keeps its routes stale meanwhile.
  for (const underlay of ["l2", "l3"] as const)
    test(`bgp on ${underlay}: an agent restarted under a ping flood loses no packet (graceful restart both ways)`, async () => {
      const state = await labUp(
        kernel,
        labSpec({ model: "bgp", nodes: 2, podsPerNode: 1, underlay }),
        paths,
        quietProgress,
      );
      const [a, b] = state.pods;
      const n1 = state.nodes[0];
      assert.ok(a && b && n1);
      const pingOnce = async (from: string, to: string) =>
        (await kernel.exec(namedNetns(from), ["ping", "-c", "1", "-W", "1", "-q", to])).code === 0;
      await eventually(
        async () => (await pingOnce(a.ns, b.ip)) && (await pingOnce(b.ns, a.ip)),
        "pods reach each other",
        {
          timeoutMs: 20_000,
        },
      );
      // 400 echoes 10 ms apart (4 s), each with its full second to answer, from n1's pod to n2's.
      const pinger = kernel.exec(namedNetns(a.ns), [
        "ping",
        "-i",
        "0.01",
        "-c",
        "400",
        "-W",
        "1",
        "-q",
        b.ip,
      ]);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await stopRecordedProcess(state, "agent", "n1");
      await startRecordedProcess(readLabStateSync() ?? state, "agent", "n1", kernel);
      type Gr = { restarting: boolean; preservedRoutes: number };
      const gr = async () =>
        ((await agentHealth(kernel, n1.ns)).body as { backend?: { bgpGracefulRestart?: Gr } } | undefined)
          ?.backend?.bgpGracefulRestart;
      // The restarted agent came back as a restarting speaker with the routes it had left in the kernel...
      await eventually(async () => (await gr()) !== undefined, "n1's agent answers /healthz", {
        timeoutMs: 15_000,
      });
      await eventually(async () => (await gr())?.restarting === false, "n1's route selection done", {
        timeoutMs: 30_000,
      });
      const reconciledMs = Date.now() - t0;
      // It came back as a restarting speaker, with the routes it had left in the kernel.
      const log = readFileSync(labProcess(state, "agent", "n1")?.log ?? "", "utf8");
      assert.match(log, /graceful restart: kernel routes kept until End-of-RIB/);
      const out = (await pinger).stdout;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      assert.ok(m, out);
      const lost = Number(m[1]) - Number(m[2]);
      assert.equal(lost, 0, `lost ${lost} of ${m[1]} pings during the agent restart`);
      assert.ok(await pingOnce(b.ns, a.ip), "and back");
      process.stderr.write(
        `# bgp ${underlay}: agent restart to route selection done ${reconciledMs} ms; 0 of ${m[1]} lost\n`,
      );
      await labDown(kernel);
    });

  test("ipip: an agent killed -9 and restarted while pods ping each other loses no packet (the datapath stays in place)", async () => {
    const state = await labUp(
      kernel,
      labSpec({ model: "ipip", nodes: 2, podsPerNode: 1 }),
      paths,
      quietProgress,
    );
    const [a, b] = state.pods;
    assert.ok(a && b);
    // `lab up` returns once the leases are there and the pods attached; each agent's first pass
    // with the other's lease (routes, then the BPF peer maps) may still be a moment away. The
    // restart is what is measured: first the path must work both ways.
    const pingOnce = async (from: string, to: string) =>
      (await kernel.exec(namedNetns(from), ["ping", "-c", "1", "-W", "1", "-q", to])).code === 0;
    await eventually(
      async () => (await pingOnce(a.ns, b.ip)) && (await pingOnce(b.ns, a.ip)),
      "pods reach each other",
      {
        timeoutMs: 15_000,
      },
    );
    // A count, not a deadline: every echo gets its full second to answer (a deadline counts the
    // last one in flight as lost).
    const pinger = kernel.exec(namedNetns(a.ns), ["ping", "-i", "0.05", "-c", "80", "-W", "1", "-q", b.ip]);
    await new Promise((r) => setTimeout(r, 500));
    await stopRecordedProcess(state, "agent", "n1", { kill: true });
    await startRecordedProcess(readLabStateSync() ?? state, "agent", "n1", kernel);
    const out = (await pinger).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]) - Number(m[2]), 0, `lost ${Number(m[1]) - Number(m[2])} of ${m[1]} pings`);
    await labDown(kernel);
  });
});

describe("the sleeve model (userspace datapath)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  for (const underlay of ["l2", "l3"] as const)
    test(`sleeve on ${underlay}: every check passes (DF pings at pod MTU = underlay − 36); the underlay carries the pods' packets in UDP 6783, node to node; /healthz shows the helper running and its counters`, async () => {
      const state = await labUp(kernel, labSpec({ model: "sleeve", underlay }), paths, quietProgress);
      const results = await runChecks(kernel, state);
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
      );
      assert.ok(results.some((r) => r.kind === "MTU (DF, full size)"));
      for (const n of state.nodes) assert.equal(n.podMtu, 1500 - 36, n.name);
      const [n1, n2] = state.nodes;
      const a = state.pods.find((p) => p.node === n1?.name);
      const b = state.pods.find((p) => p.node === n2?.name);
      assert.ok(n1 && n2 && a && b);
      // An echo request is 84 B of IP, 92 B of UDP payload with the chunk header.
      const lines = await underlayCapture("udp port 6783", () => ping(a.ns, b.ip));
      const outer = new RegExp(
        `IP ${n1.ip.replaceAll(".", "\\.")}\\.6783 > ${n2.ip.replaceAll(".", "\\.")}\\.6783: UDP, length 92`,
      );
      assert.ok(
        lines.some((l) => outer.test(l)),
        `no ${outer} in:\n${lines.join("\n")}`,
      );
      type SleeveHealth = {
        backend?: { datapath?: string; sleeve?: { running?: boolean; counters?: { encapsulated?: number } } };
      };
      const sleeveHealth = async () => (await agentHealth(kernel, n1.ns)).body as SleeveHealth;
      // The agent samples the helper's counters periodically: the ping above shows up at the next sample.
      let h = await sleeveHealth();
      await eventually(
        async () => {
          h = await sleeveHealth();
          return (h.backend?.sleeve?.counters?.encapsulated ?? 0) > 0;
        },
        "the sleeve helper's encapsulated counter to count the ping",
        { timeoutMs: 10_000, intervalMs: 250 },
      ).catch(() => undefined);
      assert.equal(h.backend?.datapath, "sleeve");
      assert.equal(h.backend?.sleeve?.running, true);
      assert.ok((h.backend?.sleeve?.counters?.encapsulated ?? 0) > 0, JSON.stringify(h.backend));
      await labDown(kernel);
    });
});
