import { resolve } from "node:path";
import type { LabPaths } from "../lab/runner.js";

/** Locations inside this checkout, found from the compiled file's own path (dist/src/cli). */
export const packageRoot = resolve(import.meta.dirname, "../../..");
export const pluginEntryDir = resolve(packageRoot, "dist/src/plugins");
export const shimPath = resolve(packageRoot, "dist/shim/strata-cni-shim");
export const spawnHelperPath = resolve(packageRoot, "dist/shim/strata-spawn-helper");

/** What the lab runs from this checkout: the CLI, this Node, the shim, the plugin entries. */
export function labPaths(): LabPaths {
  return {
    root: packageRoot,
    cliScript: resolve(packageRoot, "bin/strata.js"),
    nodePath: process.execPath,
    shimPath,
    entryDir: pluginEntryDir,
  };
}
