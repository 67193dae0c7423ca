import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("the lab agent's bundle and snapshot load etcd3 on first use", () => {
  for (const kind of labAgentEntryKinds)
    test(`${kind}: an agent on an etcd that does not answer says so (gRPC and its .proto files load)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "strata-entry-"));
      try {
        const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
        const made = spawnSync("openssl", [
          ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
          ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=strata-test"],
        ]);
        assert.equal(made.status, 0, String(made.stderr));
        const entry = labAgentEntry({ STRATA_LAB_AGENT_ENTRY: kind });
        const agent = spawn(process.execPath, [
          ...labAgentNodeFlags,
          ...agentEntryArgv(entry),
          ...["agent", "--node", "t1", "--backend", "host-gw", "--datastore", "etcd:https://127.0.0.1:9"],
          ...["--etcd-ca", cert, "--etcd-cert", cert, "--etcd-key", key, "--state-dir", dir],
          ...["--health-port", "0", "--cni-socket-dir", join(dir, "cni")],
        ]);
        let out = "";
        agent.stdout.on("data", (b) => {
          out += b;
        });
        agent.stderr.on("data", (b) => {
          out += b;
        });
        const said = await new Promise<string>((resolve) => {
          const t = setTimeout(() => resolve(out), 20_000);
          const look = () => {
            if (/etcd list failed|exited|Error/.test(out)) {
              clearTimeout(t);
              resolve(out);
            }
          };
          agent.stdout.on("data", look);
          agent.stderr.on("data", look);
          agent.on("exit", () => resolve(out));
        });
        agent.kill("SIGKILL");
        assert.match(said, /"err":"etcd list failed: 14 UNAVAILABLE/, said.slice(0, 600));
        assert.match(
          said,
          new RegExp(`"pid":${agent.pid},`),
          "pino names this process, not the snapshot's builder",
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
});
