import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { delegateAdd, runDelegate } from "./delegate.js";
import { CniError, CniErrorCode } from "./errors.js";
import { type CniPlugin, type CniRequest, decodeRequest } from "./skeleton.js";

/** The main plugin's request as the skeleton decodes it (config: the raw object). */
function mainRequest(
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS",
  cniVersion = "1.1.0",
  extra: Record<string, unknown> = {},
  cniPath = "/nonexistent",
): CniRequest<unknown> {
  const main: CniPlugin<unknown> = {
    type: "main",
    parseConfig: (raw) => raw,
    add: async () => ({ cniVersion }),
    del: async () => {},
    check: async () => {},
  };
  return decodeRequest(main, command, {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: "ctr1",
      CNI_NETNS: "/run/netns/pod",
      CNI_IFNAME: "eth0",
      CNI_ARGS: "K8S_POD_NAME=web",
      CNI_PATH: cniPath,
    },
    stdin: JSON.stringify({
      cniVersion,
      name: "net1",
      type: "main",
      ipam: { type: "rec-ipam", pool: "a" },
      ...extra,
    }),
  });
}

/** A linked IPAM plugin that records the requests it is handed. */
function recordingIpam() {
  const seen: CniRequest<{ pool: string }>[] = [];
  const plugin: CniPlugin<{ pool: string }> = {
    type: "rec-ipam",
    parseConfig: (raw) => {
      const ipam = raw.ipam as { pool?: unknown };
      if (typeof ipam.pool !== "string")
        throw new CniError(CniErrorCode.InvalidNetworkConfig, "pool is missing");
      return { pool: ipam.pool };
    },
    add: async (req) => {
      seen.push(req);
      return {
        cniVersion: req.cniVersion,
        ips: [{ address: "10.9.0.5/24", gateway: "10.9.0.1" }],
        routes: [{ dst: "10.8.0.0/16", mtu: 1400 }],
      };
    },
    del: async (req) => {
      seen.push(req);
    },
    check: async () => {
      throw new CniError(CniErrorCode.StateMismatch, "address not held", "ADD again");
    },
  };
  return { plugin, seen };
}

describe("delegation to a linked plugin (in-process, no exec, no JSON)", () => {
  test("the delegate's verb gets the caller's request with its own config and the delegated command", async () => {
    const { plugin, seen } = recordingIpam();
    const result = await delegateAdd("rec-ipam", mainRequest("ADD"), { linked: { "rec-ipam": plugin } });
    await runDelegate("rec-ipam", "DEL", mainRequest("ADD"), { linked: { "rec-ipam": plugin } });
    assert.deepEqual(
      seen.map((r) => [
        r.command,
        r.config.pool,
        r.containerId,
        r.ifName,
        r.netns,
        r.args.podName,
        r.network,
      ]),
      [
        ["ADD", "a", "ctr1", "eth0", "/run/netns/pod", "web", "net1"],
        ["DEL", "a", "ctr1", "eth0", "/run/netns/pod", "web", "net1"],
      ],
    );
    assert.deepEqual(result.ips, [{ address: "10.9.0.5/24", gateway: "10.9.0.1" }]);
    assert.equal(result.routes?.[0]?.mtu, 1400, "1.1.0 keeps the route mtu");
  });

  test("the result is what the wire carries in the configuration's version (1.0.0: no 1.1 route keys)", async () => {
    const { plugin } = recordingIpam();
    const result = await delegateAdd("rec-ipam", mainRequest("ADD", "1.0.0"), {
      linked: { "rec-ipam": plugin },
    });
    assert.deepEqual(result.routes, [{ dst: "10.8.0.0/16" }]);
    assert.equal(result.cniVersion, "1.0.0");
  });

  test("a delegate's error keeps its code and details, with its type in front (as from an executed one)", async () => {
    const { plugin } = recordingIpam();
    const err = await runDelegate("rec-ipam", "CHECK", mainRequest("CHECK"), {
      linked: { "rec-ipam": plugin },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof CniError);
    assert.equal(err.cniCode, CniErrorCode.StateMismatch);
    assert.equal(err.message, "rec-ipam: address not held");
    assert.equal(err.details, "ADD again");
  });

  test("a delegate's bad config is its code 7; a bug in it is an internal error (999), not a crash", async () => {
    const { plugin } = recordingIpam();
    const bad = await delegateAdd("rec-ipam", mainRequest("ADD", "1.1.0", { ipam: { type: "rec-ipam" } }), {
      linked: { "rec-ipam": plugin },
    }).catch((e: unknown) => e);
    assert.ok(bad instanceof CniError);
    assert.equal(bad.cniCode, CniErrorCode.InvalidNetworkConfig);
    assert.equal(bad.message, "rec-ipam: pool is missing");
    const buggy = { ...plugin, del: async () => Promise.reject(new TypeError("boom")) };
    const err = await runDelegate("rec-ipam", "DEL", mainRequest("DEL"), {
      linked: { "rec-ipam": buggy },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof CniError);
    assert.equal(err.cniCode, CniErrorCode.Internal);
    assert.match(err.details, /boom/);
  });

  test("GC and STATUS reach a linked delegate without them as success (the skeleton's defaults)", async () => {
    const { plugin } = recordingIpam();
    const opts = { linked: { "rec-ipam": plugin } };
    await runDelegate(
      "rec-ipam",
      "GC",
      mainRequest("GC", "1.1.0", { "cni.dev/valid-attachments": [] }),
      opts,
    );
    await runDelegate("rec-ipam", "STATUS", mainRequest("STATUS"), opts);
  });
});

describe("delegation to an executed plugin (any type not linked)", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-test-delegate-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a type found on no CNI_PATH directory is code 7 naming the type and the directories", async () => {
    const err = await delegateAdd("host-local-x", mainRequest("ADD", "1.1.0", {}, dir)).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof CniError);
    assert.equal(err.cniCode, CniErrorCode.InvalidNetworkConfig);
    assert.match(err.message, /"host-local-x" was not found on CNI_PATH/);
    assert.match(err.details, new RegExp(dir));
  });

  test("an executed delegate gets the verb in CNI_COMMAND and the same stdin; its error object is kept", async () => {
    // A real executable: echoes what it was given inside its error object.
    const script = join(dir, "echo-ipam");
    writeFileSync(
      script,
      `#!/bin/sh\nin=$(cat)\nprintf '{"code":103,"msg":"%s %s","details":"%s"}' "$CNI_COMMAND" "$CNI_CONTAINERID" "$(printf %s "$in" | head -c 40 | tr -d '"')"\nexit 1\n`,
    );
    chmodSync(script, 0o755);
    const err = await runDelegate("echo-ipam", "CHECK", mainRequest("CHECK", "1.1.0", {}, dir)).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof CniError);
    assert.equal(err.cniCode, 103);
    assert.equal(err.message, "echo-ipam: CHECK ctr1");
    assert.match(err.details, /^\{cniVersion:1.1.0,name:net1/);
  });
});
