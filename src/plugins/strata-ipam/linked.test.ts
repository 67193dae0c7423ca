import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { repoRoot } from "../../../test/support/cni.js";
import { type DelegateOptions, delegateAdd, runDelegate } from "../../cni/delegate.js";
import { CniError } from "../../cni/errors.js";
import { type CniPlugin, type CniRequest, decodeRequest } from "../../cni/skeleton.js";
import { ipamPlugin } from "./plugin.js";

/**
 * strata-ipam as the strata plugin reaches it: linked (its verbs called in-process) and executed
 * (the same plugin as a process from CNI_PATH) must be indistinguishable to the caller.
 */
const work = mkdtempSync(join(tmpdir(), "strata-test-linked-ipam-"));
const bin = join(work, "bin");
const dataDir = join(work, "data");

// The executable, as a runtime would find it on CNI_PATH (no shim: no agent can answer for it).
const exe = join(bin, "strata-ipam");
mkdirSync(bin);
writeFileSync(
  exe,
  `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, "dist/src/plugins/strata-ipam/main.js")}"\n`,
);
chmodSync(exe, 0o755);

const linked: DelegateOptions = { linked: { "strata-ipam": ipamPlugin } };
const executed: DelegateOptions = {};

function request(
  command: "ADD" | "DEL" | "CHECK",
  containerId: string,
  extra: Record<string, unknown> = {},
): CniRequest<unknown> {
  const main: CniPlugin<unknown> = {
    type: "strata",
    parseConfig: (raw) => raw,
    add: async () => ({ cniVersion: "1.1.0" }),
    del: async () => {},
    check: async () => {},
  };
  return decodeRequest(main, command, {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: "/run/netns/whatever",
      CNI_IFNAME: "eth0",
      CNI_PATH: bin,
    },
    stdin: JSON.stringify({
      cniVersion: "1.1.0",
      name: "linknet",
      type: "strata",
      ipam: {
        type: "strata-ipam",
        dataDir,
        // One address only, so a second owner finds the pool full.
        ranges: [[{ subnet: "10.31.0.0/24", rangeStart: "10.31.0.7", rangeEnd: "10.31.0.7" }]],
        routes: [{ dst: "10.32.0.0/16" }],
      },
      ...extra,
    }),
  });
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("expected an error"),
    (e: unknown) => {
      assert.ok(e instanceof CniError);
      return { code: e.cniCode, msg: e.message, details: e.details };
    },
  );

describe("strata-ipam linked in-process answers exactly as the executed plugin", () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  test("ADD: the same result object either way (the executed one finds the linked one's reservation)", async () => {
    const a = await delegateAdd("strata-ipam", request("ADD", "ctr1"), linked);
    const b = await delegateAdd("strata-ipam", request("ADD", "ctr1"), executed);
    assert.deepEqual(a.ips, [{ address: "10.31.0.7/24", gateway: "10.31.0.1" }]);
    assert.deepEqual(b, a);
  });

  test("a full pool: the same code, message and details either way", async () => {
    const a = await failure(delegateAdd("strata-ipam", request("ADD", "ctr2"), linked));
    const b = await failure(delegateAdd("strata-ipam", request("ADD", "ctr2"), executed));
    assert.equal(a.code, 100);
    assert.match(a.msg, /^strata-ipam: /);
    assert.deepEqual(b, a);
  });

  test("a bad IPAM section: code 7 either way, same text", async () => {
    const bad = { ipam: { type: "strata-ipam", dataDir, ranges: [] } };
    const a = await failure(delegateAdd("strata-ipam", request("ADD", "ctr3", bad), linked));
    const b = await failure(delegateAdd("strata-ipam", request("ADD", "ctr3", bad), executed));
    assert.equal(a.code, 7);
    assert.deepEqual(b, a);
  });

  test("DEL through the linked plugin is seen by the executed CHECK (one store), same error either way", async () => {
    await runDelegate("strata-ipam", "CHECK", request("CHECK", "ctr1"), executed);
    await runDelegate("strata-ipam", "DEL", request("DEL", "ctr1"), linked);
    const a = await failure(runDelegate("strata-ipam", "CHECK", request("CHECK", "ctr1"), linked));
    const b = await failure(runDelegate("strata-ipam", "CHECK", request("CHECK", "ctr1"), executed));
    assert.equal(a.code, 103);
    assert.deepEqual(b, a);
  });
});
