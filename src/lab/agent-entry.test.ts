import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  agentEntryArgv,
  type BuiltAgentEntries,
  chooseLabAgentEntry,
  labAgentNodeFlags,
} from "./agent-argv.js";

const here = { node: "/usr/bin/node", version: "v20.20.2" };
const snapshot = { blob: "/s/strata-agent.blob", ...here, flags: [...labAgentNodeFlags] };
const all: BuiltAgentEntries = { cliScript: "/s/bin/strata.js", bundle: "/s/strata-agent.cjs", snapshot };

describe("what a lab agent's Node runs", () => {
  test("the cheapest built: snapshot, else bundle, else the CLI", () => {
    assert.deepEqual(chooseLabAgentEntry(all, here), { kind: "snapshot", blob: snapshot.blob });
    const { snapshot: _, ...noSnapshot } = all;
    assert.deepEqual(chooseLabAgentEntry(noSnapshot, here), { kind: "bundle", file: all.bundle });
    assert.deepEqual(chooseLabAgentEntry({ cliScript: all.cliScript }, here), {
      kind: "cli",
      script: all.cliScript,
    });
  });

  test("a snapshot built for another Node or other flags is passed over (it would not load)", () => {
    for (const other of [
      { ...snapshot, version: "v20.19.0" },
      { ...snapshot, node: "/opt/node/bin/node" },
      { ...snapshot, flags: ["--lite-mode"] },
    ])
      assert.equal(chooseLabAgentEntry({ ...all, snapshot: other }, here).kind, "bundle");
    assert.throws(
      () => chooseLabAgentEntry({ ...all, snapshot: { ...snapshot, version: "v20.19.0" } }, here, "snapshot"),
      /built for \/usr\/bin\/node v20\.19\.0.*npm run build/,
    );
  });

  test("STRATA_LAB_AGENT_ENTRY names one; a missing or unknown one is a clear error", () => {
    assert.equal(chooseLabAgentEntry(all, here, "cli").kind, "cli");
    assert.equal(chooseLabAgentEntry(all, here, "bundle").kind, "bundle");
    assert.equal(chooseLabAgentEntry(all, here, "").kind, "snapshot");
    assert.throws(() => chooseLabAgentEntry(all, here, "wasm"), /expected one of snapshot, bundle, cli/);
    assert.throws(() => chooseLabAgentEntry({ cliScript: "x" }, here, "bundle"), /no agent bundle/);
    assert.throws(() => chooseLabAgentEntry({ cliScript: "x" }, here, "snapshot"), /no agent snapshot/);
  });

  test("Node's arguments: the blob to deserialize, or the script to run", () => {
    assert.deepEqual(agentEntryArgv({ kind: "snapshot", blob: "/b" }), ["--snapshot-blob", "/b"]);
    assert.deepEqual(agentEntryArgv({ kind: "bundle", file: "/f.cjs" }), ["/f.cjs"]);
    assert.deepEqual(agentEntryArgv({ kind: "cli", script: "/bin/strata.js" }), ["/bin/strata.js"]);
  });
});
