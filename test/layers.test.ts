import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "./support/cni.js";

/**
 * The layer rules of biome.json (written by scripts/layers.mjs) run on probe files laid out as
 * src/ is, in a scratch directory with a copy of the config: an import that runs back up fails the
 * lint, the same import from above passes.
 */
const dir = mkdtempSync(join(tmpdir(), "strata-layers-"));
after(() => rmSync(dir, { recursive: true, force: true }));
copyFileSync(join(repoRoot, "biome.json"), join(dir, "biome.json"));
const biome = join(repoRoot, "node_modules/.bin/biome");

function lint(file: string, source: string): { ok: boolean; output: string } {
  mkdirSync(join(dir, file, ".."), { recursive: true });
  writeFileSync(join(dir, file), source);
  const r = spawnSync(biome, ["lint", "--vcs-enabled=false", file], { cwd: dir, encoding: "utf8" });
  rmSync(join(dir, file));
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

const importing = (spec: string) => `import { thing } from "${spec}";\n\nexport const x = thing;\n`;

test("an import that runs back up a layer, or from one plugin into another, fails the lint, naming the rule", () => {
  for (const [file, spec] of [
    ["src/kernel/probe.ts", "../agent/cluster-agent.js"],
    ["src/bgp/speaker/probe.ts", "../../agent/cluster-agent.js"],
    ["src/common/probe.ts", "../kernel/api.js"],
    ["src/backends/vxlan/probe.ts", "../../lab/state.js"],
    ["src/plugins/strata/probe.ts", "../../cluster/subnet-leases.js"],
    ["src/agent/probe.ts", "../../test/support/netns.js"],
    ["src/plugins/strata/probe.ts", "../strata-ipam/plugin.js"],
    ["src/plugins/toolkit/probe.ts", "../strata/plugin.js"],
  ] as const) {
    const r = lint(file, importing(spec));
    assert.equal(r.ok, false, `${file} importing ${spec} must fail`);
    assert.match(r.output, /noRestrictedImports/, file);
  }
});

test("the same imports from a higher layer pass, and common may not use Node built-ins", () => {
  for (const [file, spec] of [
    ["src/cli/probe.ts", "../agent/cluster-agent.js"],
    ["src/agent/probe.ts", "../kernel/api.js"],
    ["src/lab/probe.ts", "../backends/registry.js"],
    ["src/kernel/probe.ts", "node:fs"],
    ["src/plugins/strata/probe.ts", "../toolkit/check.js"],
    ["src/plugins/strata/probe.ts", "../compose.js"],
  ] as const) {
    const r = lint(file, importing(spec));
    assert.equal(r.ok, true, `${file} importing ${spec} must pass: ${r.output}`);
  }
  assert.equal(lint("src/common/probe.ts", importing("node:fs")).ok, false);
});

test("a test file may import across layers (tests wire real parts together)", () => {
  assert.equal(lint("src/kernel/probe.test.ts", importing("../agent/cluster-agent.js")).ok, true);
});
