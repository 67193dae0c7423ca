import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import {
  addNetworkList,
  type ConfList,
  delNetworkList,
  pluginStdin,
  runPlugin,
} from "../../cni/runtime-client.js";

const ipamList = (sandbox: CniSandbox, name: string, subnet: string): ConfList => ({
  cniVersion: "1.1.0",
  name,
  plugins: [
    { type: "strata-ipam", ipam: { type: "strata-ipam", ranges: [[{ subnet }]], dataDir: sandbox.data } },
  ],
});

describe("strata-ipam as a process", () => {
  const nss = new TestNamespaces("ipam");
  const sandbox = new CniSandbox();
  let host = "";
  before(async () => {
    await sandbox.install();
    host = nss.create("host");
  });
  after(() => {
    nss.cleanup();
    sandbox.cleanup();
  });

  test("50 concurrent ADD processes never hand out one address twice; DELs leave nothing", async () => {
    // A /26 has 61 usable addresses: 50 fit, so every process must find its own.
    const list = ipamList(sandbox, "conc", "10.70.0.0/26");
    const plugin = list.plugins[0] as Record<string, unknown>;
    const opts = { cniPath: [sandbox.bin], env: { STRATA_NO_AGENT: "1" } };
    const outs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const att = { containerId: `conc-${i}`, netns: "/run/netns/none", ifName: "eth0" };
        return runPlugin("strata-ipam", "ADD", pluginStdin(list, plugin, att), att, opts);
      }),
    );
    for (const o of outs) assert.equal(o.exitCode, 0, o.stdout + o.stderr);
    const addrs = outs.map((o) => (JSON.parse(o.stdout) as { ips: { address: string }[] }).ips[0]?.address);
    assert.equal(new Set(addrs).size, 50, "no duplicate address");
    assert.equal(sandbox.reservations("conc").length, 50);
    // Reservation files keep host-local's format: "<containerID>\r\n<ifname>".
    const first = sandbox.reservations("conc")[0] as string;
    assert.match(readFileSync(join(sandbox.data, "conc", first), "utf8"), /^conc-\d+\r\neth0$/);
    const dels = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const att = { containerId: `conc-${i}`, netns: "", ifName: "eth0" };
        return runPlugin("strata-ipam", "DEL", pluginStdin(list, plugin, att), att, opts);
      }),
    );
    for (const o of dels) assert.equal(o.exitCode, 0, o.stdout);
    assert.equal(sandbox.reservations("conc").length, 0, "no leak");
  });

  test("the reference host-local and strata-ipam share one data directory without conflict", async () => {
    const subnet = "10.71.0.0/28";
    const ours = ipamList(sandbox, "shared", subnet);
    const theirs: ConfList = {
      cniVersion: "1.0.0",
      name: "shared",
      plugins: [
        { type: "host-local", ipam: { type: "host-local", ranges: [[{ subnet }]], dataDir: sandbox.data } },
      ],
    };
    const opts = { cniPath: [sandbox.bin, "/usr/lib/cni"], env: { STRATA_NO_AGENT: "1" } };
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const list = i % 2 === 0 ? ours : theirs;
      const plugin = list.plugins[0] as Record<string, unknown>;
      const type = String(plugin.type);
      const att = { containerId: `sh-${i}`, netns: "/run/netns/none", ifName: "eth0" };
      const o = await runPlugin(type, "ADD", pluginStdin(list, plugin, att), att, opts);
      assert.equal(o.exitCode, 0, o.stdout);
      got.push((JSON.parse(o.stdout) as { ips: { address: string }[] }).ips[0]?.address ?? "");
    }
    assert.equal(new Set(got).size, 6, "each plugin sees the other's reservations");
    // host-local releases what strata-ipam reserved, by the same file format.
    const att = { containerId: "sh-0", netns: "", ifName: "eth0" };
    const plugin = { ...(theirs.plugins[0] as Record<string, unknown>) };
    assert.equal(
      (await runPlugin("host-local", "DEL", pluginStdin(theirs, plugin, att), att, opts)).exitCode,
      0,
    );
    assert.equal(sandbox.reservations("shared").length, 5);
  });

  test("as the ipam of the reference bridge plugin: the pod gets our address and reaches its gateway", async () => {
    const pod = nss.create("brpod");
    const list: ConfList = {
      cniVersion: "1.0.0",
      name: "refbridge",
      plugins: [
        {
          type: "bridge",
          bridge: "cni-ref",
          isGateway: true,
          ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.72.0.0/24" }]], dataDir: sandbox.data },
        },
      ],
    };
    const att = { containerId: "refbr-1", netns: nss.path(pod), ifName: "eth0" };
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const res = (await addNetworkList(list, att, rt)) as { ips: { address: string; gateway: string }[] };
    assert.equal(res.ips[0]?.address, "10.72.0.2/24");
    const addrs = ipJson<{ addr_info: { local: string }[] }[]>(pod, ["addr", "show", "eth0"]);
    assert.ok(addrs[0]?.addr_info.some((a) => a.local === "10.72.0.2"));
    assert.ok(canPing(pod, "10.72.0.1"));
    await delNetworkList(list, att, rt, res);
    assert.equal(sandbox.reservations("refbridge").length, 0);
  });

  test("as the ipam of the reference macvlan plugin", async () => {
    const pod = nss.create("mvpod");
    const peer = nss.create("mvpeer");
    execFileSync("ip", [
      "-n",
      host,
      "link",
      "add",
      "name",
      "uplink0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      peer,
    ]);
    execFileSync("ip", ["-n", host, "link", "set", "uplink0", "up"]);
    execFileSync("ip", ["-n", peer, "addr", "add", "10.73.0.1/24", "dev", "eth0"]);
    execFileSync("ip", ["-n", peer, "link", "set", "eth0", "up"]);
    const list: ConfList = {
      cniVersion: "1.0.0",
      name: "refmacvlan",
      plugins: [
        {
          type: "macvlan",
          master: "uplink0",
          mode: "bridge",
          ipam: {
            type: "strata-ipam",
            ranges: [[{ subnet: "10.73.0.0/24", rangeStart: "10.73.0.100" }]],
            dataDir: sandbox.data,
          },
        },
      ],
    };
    const att = { containerId: "refmv-1", netns: nss.path(pod), ifName: "eth0" };
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const res = (await addNetworkList(list, att, rt)) as { ips: { address: string }[] };
    assert.equal(res.ips[0]?.address, "10.73.0.100/24");
    assert.ok(canPing(pod, "10.73.0.1"), "macvlan pod reaches a host on the parent's segment");
    await delNetworkList(list, att, rt, res);
    assert.equal(sandbox.reservations("refmacvlan").length, 0);
  });
});
