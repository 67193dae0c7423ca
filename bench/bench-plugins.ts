import { join } from "node:path";
import { installCniPlugins } from "../src/cni/install.js";
import { pluginTypes } from "../src/plugins/catalog.js";

/**
 * Install a built checkout's CNI plugins (every Strata type, through its shim) into `dir`, and
 * return the CNI_PATH a bench runs them with: that dir, then Debian's reference plugins.
 */
export async function installBenchPlugins(checkout: string, dir: string): Promise<string[]> {
  await installCniPlugins({
    dir,
    types: pluginTypes,
    shimPath: join(checkout, "dist/shim/strata-cni-shim"),
    nodePath: process.execPath,
    entryDir: join(checkout, "dist/src/plugins"),
  });
  return [dir, "/usr/lib/cni"];
}
