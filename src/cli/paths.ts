import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type BuiltAgentEntries, chooseLabAgentEntry, type LabAgentEntry } from "../lab/agent-argv.js";
import type { LabPaths } from "../lab/runner.js";

/** Locations inside this checkout, found from the compiled file's own path (dist/src/cli). */
export const packageRoot = resolve(import.meta.dirname, "../../..");
export const pluginEntryDir = resolve(packageRoot, "dist/src/plugins");
export const shimPath = resolve(packageRoot, "dist/shim/strata-cni-shim");
export const spawnHelperPath = resolve(packageRoot, "dist/shim/strata-spawn-helper");

/** What scripts/build-agent.mjs left in dist/agent (nothing, where esbuild is missing). */
function builtAgentEntries(cliScript: string): BuiltAgentEntries {
  const bundle = resolve(packageRoot, "dist/agent/strata-agent.cjs");
  const blob = resolve(packageRoot, "dist/agent/strata-agent.blob");
  let snapshot: BuiltAgentEntries["snapshot"];
  try {
    const note = JSON.parse(readFileSync(`${blob}.json`, "utf8")) as Record<string, unknown>;
    const flags = note.flags;
    if (
      existsSync(blob) &&
      typeof note.node === "string" &&
      typeof note.version === "string" &&
      Array.isArray(flags) &&
      flags.every((f) => typeof f === "string")
    )
      snapshot = { blob, node: note.node, version: note.version, flags };
  } catch {
    // no snapshot built (or its note is unreadable): the bundle or the CLI
  }
  return { cliScript, ...(existsSync(bundle) ? { bundle } : {}), ...(snapshot ? { snapshot } : {}) };
}

/**
 * What lab agents run: the cheapest entry built, or the one STRATA_LAB_AGENT_ENTRY names
 * (snapshot, bundle or cli: to compare them, bench/agent-startup.ts).
 */
export function labAgentEntry(env: NodeJS.ProcessEnv = process.env): LabAgentEntry {
  const cliScript = resolve(packageRoot, "bin/strata.js");
  return chooseLabAgentEntry(
    builtAgentEntries(cliScript),
    { node: process.execPath, version: process.version },
    env.STRATA_LAB_AGENT_ENTRY,
  );
}

/** What the lab runs from this checkout: the CLI, this Node, the shim, the plugin entries. */
export function labPaths(): LabPaths {
  return {
    root: packageRoot,
    agentEntry: labAgentEntry(),
    cliScript: resolve(packageRoot, "bin/strata.js"),
    nodePath: process.execPath,
    shimPath,
    entryDir: pluginEntryDir,
    ...(existsSync(spawnHelperPath) ? { spawnHelperPath } : {}),
  };
}
