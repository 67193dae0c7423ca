import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { installCniPlugins } from "../../src/cni/install.js";
import type { RuntimeOptions } from "../../src/cni/runtime-client.js";
import { pluginTypes } from "../../src/plugins/catalog.js";

/** The repository root, from dist/test/support. */
export const repoRoot = resolve(import.meta.dirname, "../../..");
export const referencePluginDir = "/usr/lib/cni";

/** A temp CNI bin dir filled by install-cni (the shim, or wrappers), plus a data dir for IPAM. */
export class CniSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "strata-test-cni-"));
  readonly bin = join(this.dir, "bin");
  readonly data = join(this.dir, "ipam");

  async install(): Promise<this> {
    await installCniPlugins({
      dir: this.bin,
      types: pluginTypes,
      shimPath: join(repoRoot, "dist/shim/strata-cni-shim"),
      nodePath: process.execPath,
      entryDir: join(repoRoot, "dist/src/plugins"),
    });
    return this;
  }

  /** Runtime options that exec plugins inside `hostNs`, as that node's runtime would. */
  runtime(hostNs: string, env: Record<string, string> = {}): RuntimeOptions {
    return { cniPath: [this.bin, referencePluginDir], execPrefix: ["ip", "netns", "exec", hostNs], env };
  }

  /** IPAM reservation files (host-local layout: one file per address) of a network. */
  reservations(network: string): string[] {
    try {
      return readdirSync(join(this.data, network)).filter((f) => /^[0-9a-f.:]+$/.test(f) && /[.:]/.test(f));
    } catch {
      return [];
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** JSON of `ip -json ...` inside a namespace. */
export function ipJson<T = unknown>(ns: string, argv: string[]): T {
  return JSON.parse(execFileSync("ip", ["-n", ns, "-json", ...argv], { encoding: "utf8" }) || "[]") as T;
}

export function canPing(fromNs: string, ip: string): boolean {
  try {
    execFileSync("ip", ["netns", "exec", fromNs, "ping", "-c", "1", "-W", "2", "-q", ip], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

/** Are these programs installed (each answers --version)? */
export function hasCommands(...names: string[]): boolean {
  try {
    for (const n of names) execFileSync(n, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
