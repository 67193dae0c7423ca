import { chmod, copyFile, mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathExists } from "../process/run-program.js";

export interface InstallOptions {
  readonly dir: string;
  readonly types: readonly string[];
  /** The compiled shim; when absent, shell wrappers are written. */
  readonly shimPath?: string;
  readonly nodePath: string;
  readonly entryDir: string;
}

/**
 * Fill a CNI bin directory the way a DaemonSet's install step fills /opt/cni/bin: one executable per
 * plugin type, named by type, nothing else. Each file is written beside its target and renamed into
 * place, so a runtime never execs a half-written plugin.
 */
export async function installCniPlugins(opts: InstallOptions): Promise<string[]> {
  await mkdir(opts.dir, { recursive: true });
  const shim = opts.shimPath && (await pathExists(opts.shimPath)) ? opts.shimPath : undefined;
  const written: string[] = [];
  for (const type of opts.types) {
    const target = join(opts.dir, type);
    const tmp = join(opts.dir, `.${type}.tmp-${process.pid}`);
    if (shim) {
      await copyFile(shim, tmp);
    } else {
      const entry = resolve(opts.entryDir, type, "main.js");
      await writeFile(tmp, `#!/bin/sh\nexec "${opts.nodePath}" "${entry}"\n`);
    }
    await chmod(tmp, 0o755);
    await rename(tmp, target);
    written.push(target);
  }
  return written;
}
