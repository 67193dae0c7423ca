import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { agentEntryArgv, labAgentEntryKinds, labAgentNodeFlags } from "../lab/agent-argv.js";
import { labAgentEntry, labPaths } from "./paths.js";

// The lab's agents run the build's bundle or its startup snapshot (scripts/build-agent.mjs): the
// same command as `strata agent`, flag for flag and error for error.
const run = (kind: string, args: string[]) => {
  const entry = labAgentEntry({ STRATA_LAB_AGENT_ENTRY: kind });
  return spawnSync(process.execPath, [...labAgentNodeFlags, ...agentEntryArgv(entry), ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
};

describe("the lab agent's bundle and snapshot are the agent command", () => {
  test("this build made both, and the lab runs the snapshot", () => {
    assert.equal(labPaths().agentEntry?.kind, "snapshot");
  });

  for (const kind of labAgentEntryKinds)
    test(`${kind}: the same help and the same usage error as bin/strata.js agent`, () => {
      const help = run(kind, ["agent", "--help"]);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: strata agent \[options\]/);
      assert.match(help.stdout, /--bgp-restart-time <s>/);
      assert.equal(help.stdout, run("cli", ["agent", "--help"]).stdout);
      const bad = run(kind, ["agent", "--node", "n1", "--cluster-cidr", "10.244.0.0/33"]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /cluster-cidr/);
    });
});
