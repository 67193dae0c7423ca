import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { pluginRunner } from "../../cni/skeleton.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { ipamPlugin } from "../strata-ipam/plugin.js";
import { ipvlanModes } from "./config.js";
import { createIpvlanPlugin } from "./plugin.js";

const kernel = createIproute2Kernel();
const nss = new TestNamespaces("ipvlan");
const data = mkdtempSync(join(tmpdir(), "strata-test-ipvlan-"));
const node = nss.create("node");
execFileSync("ip", ["-n", node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
execFileSync("ip", ["-n", node, "link", "set", "eth0", "up"]);
const run = pluginRunner(
  createIpvlanPlugin({
    kernel,
    hostNs: namedNetns(node),
    delegates: { linked: { "strata-ipam": ipamPlugin } },
  }),
);
const conf = (mode: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.1.0",
  name: `ipv-${mode}`,
  type: "strata-ipvlan",
  master: "eth0",
  mode,
  ipam: { type: "strata-ipam", dataDir: data, ranges: [[{ subnet: "10.71.0.0/24" }]] },
  ...extra,
});
const call = (command: string, netns: string, stdin: object) =>
  run({
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: "c1",
      CNI_NETNS: netns,
      CNI_IFNAME: "net1",
      CNI_PATH: "/x",
    },
    stdin: JSON.stringify(stdin),
  });
const reservations = (network: string) => {
  try {
    return readdirSync(join(data, network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
};
const hasIpvlan = (await kernel.probe()).linkKinds.ipvlan;

describe(`strata-ipvlan in real namespaces (this kernel ${hasIpvlan ? "has" : "has no"} ipvlan)`, () => {
  after(() => {
    nss.cleanup();
    rmSync(data, { recursive: true, force: true });
  });

  for (const mode of ipvlanModes) {
    if (hasIpvlan) {
      test(`mode ${mode}: ADD makes the ipvlan, CHECK passes, DEL removes it and the address`, async () => {
        const pod = nss.create("pod");
        const added = await call("ADD", nss.path(pod), conf(mode));
        assert.equal(added.exitCode, 0, added.stdout);
        const link = ipJson<{ linkinfo?: { info_kind: string } }[]>(pod, ["-d", "link", "show", "net1"])[0];
        assert.equal(link?.linkinfo?.info_kind, "ipvlan");
        const check = await call(
          "CHECK",
          nss.path(pod),
          conf(mode, { prevResult: JSON.parse(added.stdout) }),
        );
        assert.equal(check.exitCode, 0, check.stdout);
        assert.equal((await call("DEL", nss.path(pod), conf(mode))).exitCode, 0);
        assert.deepEqual(reservations(`ipv-${mode}`), []);
      });
    } else {
      test(`mode ${mode}: ADD fails with code 101 naming the missing kernel feature, and leaves nothing`, async () => {
        const pod = nss.create("pod");
        const out = await call("ADD", nss.path(pod), conf(mode));
        assert.equal(out.exitCode, 1);
        const e = JSON.parse(out.stdout);
        assert.equal(e.code, 101);
        assert.match(
          e.msg,
          /this kernel has no ipvlan link type \(kernel feature CONFIG_IPVLAN, module ipvlan\)/,
        );
        assert.match(e.details, /Unknown device type/);
        assert.deepEqual(reservations(`ipv-${mode}`), [], "no address reserved");
        assert.deepEqual(
          ipJson<{ ifname: string }[]>(pod, ["link", "show"]).map((l) => l.ifname),
          ["lo"],
        );
        assert.equal(
          (await call("DEL", nss.path(pod), conf(mode))).exitCode,
          0,
          "DEL after the failed ADD succeeds",
        );
      });
    }
  }

  test(`STATUS ${hasIpvlan ? "succeeds" : "is code 50 naming the missing feature"}`, async () => {
    const out = await run({
      env: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
      stdin: JSON.stringify(conf("l2")),
    });
    if (hasIpvlan) assert.equal(out.exitCode, 0, out.stdout);
    else {
      assert.equal(JSON.parse(out.stdout).code, 50);
      assert.match(JSON.parse(out.stdout).msg, /CONFIG_IPVLAN/);
    }
  });
});
