import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { repoRoot } from "../../test/support/cni.js";
import { eventually } from "../common/eventually.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { countBgpSessions } from "./bgp-status.js";
import { runChecks } from "./check.js";
import { labDown, labUp, stopDatastore } from "./runner.js";
import type { LabSpec } from "./topology.js";

const kernel = createIproute2Kernel();
const paths = {
  root: repoRoot,
  cliScript: join(repoRoot, "bin/strata.js"),
  nodePath: process.execPath,
  shimPath: join(repoRoot, "dist/shim/strata-cni-shim"),
  entryDir: join(repoRoot, "dist/src/plugins"),
};
const quiet = <T>(_label: string, fn: () => Promise<T>) => fn();
const spec = (o: Partial<LabSpec>): LabSpec => ({
  model: "vxlan",
  nodes: 3,
  podsPerNode: 2,
  underlay: "l2",
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
  ...o,
});

async function health(
  ns: string,
): Promise<{ unreachable: { node: string; reason: string }[]; subnet?: string }> {
  const r = await kernel.exec(namedNetns(ns), [
    "python3",
    "-c",
    "import urllib.request as u;print(u.urlopen('http://127.0.0.1:9947/healthz',timeout=2).read().decode())",
  ]);
  return JSON.parse(r.stdout);
}

describe("the lab (agents as processes, one per node namespace)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  // Every model on both underlays with both datastores (host-gw on l3 has its own test below).
  const matrix = (["host-gw", "vxlan", "vxlan-crosssubnet"] as const).flatMap((model) =>
    (["l2", "l3"] as const).flatMap((underlay) =>
      (["embedded", "etcd"] as const).map((datastore) => spec({ model, underlay, datastore })),
    ),
  );
  for (const s of matrix.filter((m) => !(m.model === "host-gw" && m.underlay === "l3"))) {
    test(`${s.model} on ${s.underlay} with ${s.datastore}: every check passes`, async () => {
      const state = await labUp(kernel, s, paths, quiet);
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
    spec({ model: "bgp" }),
    spec({ model: "bgp", nodes: 5, podsPerNode: 1, routeReflectors: 2, datastore: "etcd" }),
    spec({ model: "bgp", nodes: 4, podsPerNode: 1, underlay: "l3" }),
  ]) {
    const label = `bgp on ${s.underlay}${s.routeReflectors ? ` with ${s.routeReflectors} route reflectors` : ""}`;
    test(`${label}: every check passes, the kernel holds the expected sessions, a dead agent's routes stay, a removed node is withdrawn`, async () => {
      const state = await labUp(kernel, s, paths, quiet);
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
      spec({ model: "host-gw", underlay: "l3", podsPerNode: 1 }),
      paths,
      quiet,
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
        spec({ model: "vxlan", nodes: 2, podsPerNode: 1, datastore }),
        paths,
        quiet,
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
    const state = await labUp(kernel, spec({ model: "vxlan", nodes: 2, podsPerNode: 1 }), paths, quiet);
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
