// Runs every compiled test file (dist/**/*.test.js) with Node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
// (*.lab.test.js files take /tmp/strata-lab.lock themselves: do not wrap this in flock.)
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = findTests("dist")
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// One id per run: the sweep below removes only this run's namespaces, not a parallel run's.
const runId = randomBytes(2).toString("hex");
const env = { ...process.env, STRATA_TEST_RUN: runId };
const nodeTest = (concurrency, list) => [
  "--test",
  `--test-concurrency=${concurrency}`,
  "--test-timeout=600000",
  "--test-reporter=spec",
  ...list,
];
// Files named *.lab.test.js bring up THE lab (global names: strata-lab-* namespaces, /run/strata-lab):
// they run one at a time, after the rest, holding the lab lock that people and benches take too.
const labFiles = files.filter((f) => f.endsWith(".lab.test.js"));
const otherFiles = files.filter((f) => !f.endsWith(".lab.test.js"));
const statuses = [];
if (otherFiles.length > 0)
  statuses.push(spawnSync(process.execPath, nodeTest(2, otherFiles), { stdio: "inherit", env }).status);
if (labFiles.length > 0)
  statuses.push(
    spawnSync("flock", ["/tmp/strata-lab.lock", process.execPath, ...nodeTest(1, labFiles)], {
      stdio: "inherit",
      env,
    }).status,
  );
const res = { status: statuses.every((s) => s === 0) ? 0 : 1 };
// A test file that crashed never ran its cleanup: remove its namespaces (and what runs in them).
const { createIproute2Kernel } = await import("../dist/src/kernel/iproute2/index.js");
const { removeNamespaces } = await import("../dist/src/kernel/remove-namespaces.js");
for (const name of await removeNamespaces(createIproute2Kernel(), `strata-t-${runId}-`))
  console.error(`removed leftover namespace ${name}`);
// Agents the tests killed with -9 leave their socket files behind: remove those nobody answers on.
const { readdir, unlink } = await import("node:fs/promises");
const { connect } = await import("node:net");
const socketDir = "/run/strata-cni";
const answers = (path) =>
  new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
for (const f of (await readdir(socketDir).catch(() => [])).filter((n) => n.endsWith(".sock"))) {
  if (!(await answers(`${socketDir}/${f}`))) await unlink(`${socketDir}/${f}`).catch(() => {});
}
process.exit(res.status ?? 1);
