// Compiles the CNI shim (src/shim/cni-shim.c) with this machine's Node and this checkout's
// compiled plugin entries baked in. Without a C compiler the shim is skipped and install-cni
// falls back to shell wrappers (slower, same behaviour).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const out = resolve(root, "dist/shim/strata-cni-shim");
mkdirSync(resolve(root, "dist/shim"), { recursive: true });
const entryDir = resolve(root, "dist/src/plugins");
const args = [
  "-O2",
  "-Wall",
  "-Wextra",
  `-DSTRATA_NODE="${process.execPath}"`,
  `-DSTRATA_ENTRY_DIR="${entryDir}"`,
  "-o",
  out,
  resolve(root, "src/shim/cni-shim.c"),
];
const cc = spawnSync("cc", args, { stdio: "inherit" });
if (cc.error || cc.status !== 0) {
  console.warn("build-shim: no C compiler or compile failed; install-cni will write shell wrappers instead");
}
// The agent's spawn helper (src/shim/spawn-helper.c); without it the agent forks itself (slower).
const helper = spawnSync(
  "cc",
  [
    "-O2",
    "-Wall",
    "-Wextra",
    "-o",
    resolve(root, "dist/shim/strata-spawn-helper"),
    resolve(root, "src/shim/spawn-helper.c"),
  ],
  { stdio: "inherit" },
);
if (helper.error || helper.status !== 0)
  console.warn("build-shim: spawn helper not built; the agent will spawn directly");
