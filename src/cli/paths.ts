import { resolve } from "node:path";

/** Locations inside this checkout, found from the compiled file's own path (dist/src/cli). */
export const packageRoot = resolve(import.meta.dirname, "../../..");
export const pluginEntryDir = resolve(packageRoot, "dist/src/plugins");
export const shimPath = resolve(packageRoot, "dist/shim/strata-cni-shim");
export const spawnHelperPath = resolve(packageRoot, "dist/shim/strata-spawn-helper");
