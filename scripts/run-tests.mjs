// Runs every compiled test file (dist/**/*.test.js) with Node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawnSync } from "node:child_process";
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
/** A test file that crashed never ran its cleanup: remove its namespaces (and what runs in them). */
function removeLeftoverNamespaces() {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const name of list.split("\n").map((l) => l.split(" ")[0])) {
    if (!name?.startsWith("strata-t-")) continue;
    const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone
      }
    }
    spawnSync("ip", ["netns", "del", name]);
    console.error(`removed leftover namespace ${name}`);
  }
}

const res = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=2", "--test-timeout=300000", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
removeLeftoverNamespaces();
process.exit(res.status ?? 1);
