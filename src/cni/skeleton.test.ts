import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError, CniErrorCode } from "./errors.js";
import type { CniResult } from "./result.js";
import { type CniPlugin, dispatch, pluginRunner } from "./skeleton.js";

/** A plugin that records what the skeleton handed it. */
function recordingPlugin() {
  const calls: { verb: string; netns: string; ifName: string; podName?: string; valid?: number }[] = [];
  const plugin: CniPlugin<{ flavour: string }> = {
    type: "rec",
    parseConfig: (raw) => {
      if (raw.flavour !== undefined && typeof raw.flavour !== "string") {
        throw new CniError(CniErrorCode.InvalidNetworkConfig, "flavour must be a string");
      }
      return { flavour: (raw.flavour as string | undefined) ?? "plain" };
    },
    add: async (req): Promise<CniResult> => {
      calls.push({ verb: "ADD", netns: req.netns, ifName: req.ifName, podName: req.args.podName });
      return {
        cniVersion: req.cniVersion,
        interfaces: [{ name: req.ifName, sandbox: req.netns }],
        ips: [
          { address: "10.0.0.5/24", gateway: "10.0.0.1", interface: 0 },
          { address: "fd00::5/64", interface: 0 },
        ],
        routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1", mtu: 1400 }],
      };
    },
    del: async (req) => {
      calls.push({ verb: "DEL", netns: req.netns, ifName: req.ifName });
    },
    check: async (req) => {
      calls.push({ verb: "CHECK", netns: req.netns, ifName: req.ifName });
    },
    gc: async (req) => {
      calls.push({ verb: "GC", netns: "", ifName: "", valid: req.validAttachments.length });
    },
    status: async () => {
      throw new CniError(CniErrorCode.PluginNotAvailable, "not ready");
    },
  };
  return { plugin, calls };
}

const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: "abc123",
  CNI_NETNS: "/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  ...extra,
});
const conf = (version = "1.1.0", extra: Record<string, unknown> = {}) =>
  JSON.stringify({ cniVersion: version, name: "net1", type: "rec", ...extra });

describe("CNI skeleton", () => {
  test("VERSION reports every supported version", async () => {
    const { plugin } = recordingPlugin();
    const out = await dispatch(plugin, { env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"1.1.0"}' });
    assert.equal(out.exitCode, 0);
    const v = JSON.parse(out.stdout);
    assert.equal(v.cniVersion, "1.1.0");
    assert.deepEqual(v.supportedVersions, ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  });

  test("ADD result for 1.0.0 has no per-IP version and drops 1.1 route fields", async () => {
    const { plugin } = recordingPlugin();
    const out = await dispatch(plugin, { env: env("ADD"), stdin: conf("1.0.0") });
    const r = JSON.parse(out.stdout);
    assert.equal(r.cniVersion, "1.0.0");
    assert.equal(r.ips[0].version, undefined);
    assert.deepEqual(r.routes[0], { dst: "0.0.0.0/0", gw: "10.0.0.1" });
  });

  test("ADD result for 0.4.0 and 0.3.1 carries ip version 4/6", async () => {
    for (const v of ["0.4.0", "0.3.1"]) {
      const { plugin } = recordingPlugin();
      const r = JSON.parse((await dispatch(plugin, { env: env("ADD"), stdin: conf(v) })).stdout);
      assert.equal(r.cniVersion, v);
      assert.equal(r.ips[0].version, "4");
      assert.equal(r.ips[1].version, "6");
    }
  });

  test("ADD result for 1.1.0 keeps route mtu", async () => {
    const { plugin } = recordingPlugin();
    const r = JSON.parse((await dispatch(plugin, { env: env("ADD"), stdin: conf() })).stdout);
    assert.equal(r.routes[0].mtu, 1400);
  });

  test("K8S_POD_* keys of CNI_ARGS reach the plugin", async () => {
    const { plugin, calls } = recordingPlugin();
    await dispatch(plugin, {
      env: env("ADD", {
        CNI_ARGS:
          "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc123",
      }),
      stdin: conf(),
    });
    assert.equal(calls[0]?.podName, "web-0");
  });

  test("DEL succeeds without CNI_NETNS", async () => {
    const { plugin, calls } = recordingPlugin();
    const e = env("DEL");
    const { CNI_NETNS: _gone, ...noNetns } = e;
    const out = await dispatch(plugin, { env: noNetns, stdin: conf() });
    assert.equal(out.exitCode, 0);
    assert.equal(calls[0]?.netns, "");
  });

  test("GC receives the valid attachments", async () => {
    const { plugin, calls } = recordingPlugin();
    const out = await dispatch(plugin, {
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] }),
    });
    assert.equal(out.exitCode, 0);
    assert.equal(calls[0]?.valid, 1);
  });

  test("GC takes the legacy cni.dev/attachments key (the 1.1.0 spec text's name)", async () => {
    const { plugin, calls } = recordingPlugin();
    const out = await dispatch(plugin, {
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", { "cni.dev/attachments": [{ containerID: "a", ifname: "eth0" }] }),
    });
    assert.equal(out.exitCode, 0);
    assert.equal(calls[0]?.valid, 1);
  });

  test("GC with both keys keeps every attachment named in either", async () => {
    const { plugin, calls } = recordingPlugin();
    const out = await dispatch(plugin, {
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", {
        "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }],
        "cni.dev/attachments": [{ containerID: "b", ifname: "eth0" }],
      }),
    });
    assert.equal(out.exitCode, 0);
    assert.equal(calls[0]?.valid, 2);
  });

  test("GC with an empty list is a real GC (the runtime has no attachments left)", async () => {
    const { plugin, calls } = recordingPlugin();
    const out = await dispatch(plugin, {
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", { "cni.dev/valid-attachments": [] }),
    });
    assert.equal(out.exitCode, 0);
    assert.equal(calls[0]?.valid, 0);
  });

  test("STATUS failure is reported with code 50", async () => {
    const { plugin } = recordingPlugin();
    const out = await dispatch(plugin, { env: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" }, stdin: conf() });
    assert.equal(out.exitCode, 1);
    assert.equal(JSON.parse(out.stdout).code, 50);
  });

  test("an unexpected exception becomes an internal error object, not a crash", async () => {
    const { plugin } = recordingPlugin();
    const broken = { ...plugin, add: async () => Promise.reject(new TypeError("boom")) };
    const out = await dispatch(broken, { env: env("ADD"), stdin: conf() });
    const e = JSON.parse(out.stdout);
    assert.equal(out.exitCode, 1);
    assert.equal(e.code, 999);
    assert.match(e.details, /boom/);
  });
});

/** A plugin with only the verbs every plugin must have: no gc, no status. */
function minimalPlugin() {
  const calls: string[] = [];
  const { gc: _gc, status: _status, ...rest } = recordingPlugin().plugin;
  const plugin: CniPlugin<{ flavour: string }> = {
    ...rest,
    del: async () => {
      calls.push("DEL");
    },
  };
  return { plugin, calls };
}

describe("CNI skeleton: GC and STATUS are optional (CNI 1.1.0)", () => {
  test("a plugin without GC succeeds doing nothing, with no output", async () => {
    const { plugin, calls } = minimalPlugin();
    assert.equal(plugin.gc, undefined);
    const out = await pluginRunner(plugin)({
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] }),
    });
    assert.deepEqual(out, { exitCode: 0, stdout: "", stderr: "" });
    assert.deepEqual(calls, [], "GC must not fall back to another verb");
  });

  test("a plugin without STATUS reports ready: exit 0, no error object", async () => {
    const { plugin } = minimalPlugin();
    assert.equal(plugin.status, undefined);
    const out = await pluginRunner(plugin)({
      env: { CNI_COMMAND: "STATUS", CNI_PATH: "/opt/cni/bin" },
      stdin: conf(),
    });
    assert.deepEqual(out, { exitCode: 0, stdout: "", stderr: "" });
  });

  for (const verb of ["GC", "STATUS"]) {
    test(`${verb} without an implementation is still refused for cniVersion 1.0.0 (code 1)`, async () => {
      const { plugin } = minimalPlugin();
      const out = await pluginRunner(plugin)({
        env: { CNI_COMMAND: verb, CNI_PATH: "/opt/cni/bin" },
        stdin: conf("1.0.0", { "cni.dev/valid-attachments": [] }),
      });
      assert.equal(out.exitCode, 1);
      assert.equal(JSON.parse(out.stdout).code, 1);
    });
  }

  test("GC without an implementation still refuses a request without the attachment list (code 7)", async () => {
    const { plugin } = minimalPlugin();
    const out = await pluginRunner(plugin)({
      env: { CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" },
      stdin: conf(),
    });
    assert.equal(out.exitCode, 1);
    assert.equal(JSON.parse(out.stdout).code, 7);
  });

  test("a configuration the plugin rejects fails STATUS with its code even without an implementation", async () => {
    const { plugin } = minimalPlugin();
    const out = await pluginRunner(plugin)({
      env: { CNI_COMMAND: "STATUS", CNI_PATH: "/opt/cni/bin" },
      stdin: conf("1.1.0", { flavour: 7 }),
    });
    assert.equal(out.exitCode, 1);
    assert.equal(JSON.parse(out.stdout).code, 7);
  });
});

/** Malformed input, each answered with the spec's code. */
const malformed: { name: string; env: Record<string, string>; stdin: string; code: number; msg: RegExp }[] = [
  { name: "stdin is not JSON", env: env("ADD"), stdin: "{not json", code: 6, msg: /not valid JSON/ },
  { name: "stdin is a JSON list", env: env("ADD"), stdin: "[1,2]", code: 6, msg: /JSON object/ },
  { name: "stdin is empty", env: env("ADD"), stdin: "", code: 6, msg: /not valid JSON/ },
  {
    name: "cniVersion missing",
    env: env("ADD"),
    stdin: '{"name":"n","type":"rec"}',
    code: 7,
    msg: /cniVersion is missing/,
  },
  {
    name: "cniVersion unsupported",
    env: env("ADD"),
    stdin: conf("0.2.0"),
    code: 1,
    msg: /incompatible CNI version 0.2.0/,
  },
  { name: "cniVersion from the future", env: env("ADD"), stdin: conf("9.0.0"), code: 1, msg: /incompatible/ },
  { name: "cniVersion not a version", env: env("ADD"), stdin: conf("latest"), code: 6, msg: /not a version/ },
  {
    name: "name missing",
    env: env("ADD"),
    stdin: '{"cniVersion":"1.1.0","type":"rec"}',
    code: 7,
    msg: /"name" is missing/,
  },
  {
    name: "name with slash",
    env: env("ADD"),
    stdin: '{"cniVersion":"1.1.0","type":"rec","name":"../etc"}',
    code: 7,
    msg: /network name/,
  },
  {
    name: "type missing",
    env: env("ADD"),
    stdin: '{"cniVersion":"1.1.0","name":"n"}',
    code: 7,
    msg: /"type" is missing/,
  },
  {
    name: "plugin field of wrong type",
    env: env("ADD"),
    stdin: conf("1.1.0", { flavour: 5 }),
    code: 7,
    msg: /flavour/,
  },
  { name: "CNI_COMMAND missing", env: {}, stdin: conf(), code: 4, msg: /CNI_COMMAND is not set/ },
  { name: "CNI_COMMAND unknown", env: env("FROB"), stdin: conf(), code: 4, msg: /unknown CNI_COMMAND/ },
  {
    name: "CNI_CONTAINERID missing",
    env: env("ADD", { CNI_CONTAINERID: "" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_CONTAINERID/,
  },
  {
    name: "CNI_CONTAINERID invalid",
    env: env("ADD", { CNI_CONTAINERID: "a b;c" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_CONTAINERID/,
  },
  {
    name: "CNI_NETNS missing on ADD",
    env: env("ADD", { CNI_NETNS: "" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_NETNS/,
  },
  {
    name: "CNI_IFNAME too long",
    env: env("ADD", { CNI_IFNAME: "a-very-long-ifname" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_IFNAME/,
  },
  {
    name: "CNI_IFNAME with slash",
    env: env("ADD", { CNI_IFNAME: "eth/0" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_IFNAME/,
  },
  {
    name: "CNI_PATH missing on ADD",
    env: env("ADD", { CNI_PATH: "" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_PATH/,
  },
  {
    name: "CNI_ARGS malformed",
    env: env("ADD", { CNI_ARGS: "K8S_POD_NAME" }),
    stdin: conf(),
    code: 4,
    msg: /CNI_ARGS/,
  },
  { name: "CHECK on 0.3.1", env: env("CHECK"), stdin: conf("0.3.1"), code: 1, msg: /CHECK is not defined/ },
  { name: "GC on 1.0.0", env: env("GC"), stdin: conf("1.0.0"), code: 1, msg: /GC is not defined/ },
  {
    name: "GC attachments malformed",
    env: env("GC"),
    stdin: conf("1.1.0", { "cni.dev/valid-attachments": [{ id: 1 }] }),
    code: 7,
    msg: /valid-attachments/,
  },
  {
    name: "GC legacy attachments malformed",
    env: env("GC"),
    stdin: conf("1.1.0", { "cni.dev/attachments": "all" }),
    code: 7,
    msg: /cni\.dev\/attachments/,
  },
  {
    name: "GC without any attachment list (would free every live pod)",
    env: env("GC"),
    stdin: conf("1.1.0"),
    code: 7,
    msg: /GC needs the list/,
  },
  {
    name: "prevResult malformed",
    env: env("CHECK"),
    stdin: conf("1.1.0", { prevResult: { ips: "x" } }),
    code: 6,
    msg: /prevResult/,
  },
  {
    name: "runtimeConfig not an object",
    env: env("ADD"),
    stdin: conf("1.1.0", { runtimeConfig: 7 }),
    code: 7,
    msg: /runtimeConfig/,
  },
];

describe("malformed invocations get the spec's error code", () => {
  for (const m of malformed) {
    test(`${m.name} → code ${m.code}`, async () => {
      const { plugin, calls } = recordingPlugin();
      const out = await dispatch(plugin, { env: m.env, stdin: m.stdin });
      assert.equal(out.exitCode, 1);
      const e = JSON.parse(out.stdout);
      assert.equal(e.code, m.code, out.stdout);
      assert.match(e.msg, m.msg);
      assert.equal(calls.length, 0, "the verb must not run");
    });
  }
});
