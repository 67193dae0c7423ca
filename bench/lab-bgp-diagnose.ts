/**
 * Why a large bgp lab's last routes are late (issue 16): `lab up` of a full mesh with no pods;
 * when it starts waiting for routes, every 5 s for `--watch-seconds`: the nodes still missing a
 * route and to whom, each such pair's TCP state on port 179 from both kernels (ss), and what the
 * node's /healthz says of that peer. Then `up` goes on (and the lab is removed).
 *
 *   flock /tmp/strata-heavy.lock flock /tmp/strata-lab.lock node dist/bench/lab-bgp-diagnose.js \
 *     [--nodes 100] [--watch-seconds 90]
 */
import { labPaths } from "../src/cli/paths.js";
import { namedNetns } from "../src/kernel/api.js";
import { strataRouteProto } from "../src/kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { agentHealth } from "../src/lab/agent-health.js";
import { labDown, labUp } from "../src/lab/runner.js";
import { readLabStateSync } from "../src/lab/state.js";
import { benchLabSpec } from "./lab-bench-spec.js";
import { readRouteChangeCounters, routeChangeLine } from "./route-change-counters.js";

const arg = (flag: string, fallback: string) =>
  process.argv.includes(flag) ? (process.argv[process.argv.indexOf(flag) + 1] ?? fallback) : fallback;
const nodes = Number(arg("--nodes", "100"));
const watchS = Number(arg("--watch-seconds", "90"));
const kernel = createIproute2Kernel();
const t0 = performance.now();
const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

async function snapshot(): Promise<number> {
  const state = readLabStateSync();
  if (!state) return -1;
  const missing: [string, string][] = [];
  for (const n of state.nodes) {
    const routes = await kernel.routes(namedNetns(n.ns), { family: 4 });
    const have = new Set(routes.filter((r) => r.proto === strataRouteProto).map((r) => r.dst));
    for (const o of state.nodes) if (o !== n && !have.has(o.subnet)) missing.push([n.name, o.name]);
  }
  const byNode = new Map<string, string[]>();
  for (const [n, o] of missing) byNode.set(n, [...(byNode.get(n) ?? []), o]);
  console.log(`${at()}: ${missing.length} routes missing on ${byNode.size} nodes`);
  const ipOf = new Map(state.nodes.map((n) => [n.name, n.ip]));
  const nsOf = new Map(state.nodes.map((n) => [n.name, n.ns]));
  for (const [n, others] of [...byNode].slice(0, 3)) {
    const ss = await kernel.exec(namedNetns(nsOf.get(n) ?? ""), [
      "ss",
      "-Htna",
      "( sport = :179 or dport = :179 )",
    ]);
    const h = (await agentHealth(kernel, nsOf.get(n) ?? "")).body as
      | { backend?: { bgpSessions?: unknown[] } }
      | undefined;
    for (const o of others.slice(0, 3)) {
      const ip = ipOf.get(o) ?? "";
      const lines = ss.stdout.split("\n").filter((l) => l.includes(`${ip}:`));
      const peer = JSON.stringify(
        (h?.backend?.bgpSessions ?? []).find((p) => JSON.stringify(p).includes(`"${ip}"`)) ??
          "not in /healthz",
      );
      console.log(
        `  ${n} lacks ${o}: ss [${lines.map((l) => l.trim().replace(/\s+/g, " ")).join(" | ")}] healthz ${peer.slice(0, 300)}`,
      );
    }
    console.log(`  ${n} lacks ${others.length}: ${others.slice(0, 12).join(", ")}`);
  }
  return missing.length;
}

try {
  let waitStart = 0;
  const state = await labUp(kernel, benchLabSpec("bgp", nodes), labPaths(), async (label, fn) => {
    console.log(`${at()}: ${label}`);
    if (label.startsWith("waiting for")) {
      waitStart = performance.now();
      const until = performance.now() + watchS * 1000;
      while (performance.now() < until) {
        if ((await snapshot()) === 0) break;
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
    return fn();
  });
  console.log(
    `${at()}: up; every route in place ${((performance.now() - waitStart) / 1000).toFixed(1)} s after the route wait began (sampled every 5 s while watching)`,
  );
  console.log(routeChangeLine(await readRouteChangeCounters(kernel, state)));
} catch (err) {
  console.log(`${at()}: ${String(err).split("\n")[0]}`);
} finally {
  await labDown(kernel);
}
