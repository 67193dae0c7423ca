import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { addNetworkList, type ConfList, delNetworkList, runPlugin } from "../../cni/runtime-client.js";
import { pluginRunner } from "../../cni/skeleton.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { ipamPlugin } from "../strata-ipam/plugin.js";
import { macvlanModes } from "./config.js";
import { giveNodeMacvlan, removeNodeMacvlan } from "./node-reach.js";
import { createMacvlanPlugin } from "./plugin.js";

const kernel = createIproute2Kernel();
const nss = new TestNamespaces("macvlan");
const data = mkdtempSync(join(tmpdir(), "strata-test-macvlan-"));
let sandbox: CniSandbox;

/** A node whose eth0 is cabled to a switch (a bridge in its own namespace), as on a real L2 segment. */
function nodeOnSwitch(opts: { hairpin?: boolean } = {}) {
  const sw = nss.create("sw");
  const node = nss.create("node");
  execFileSync("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
  execFileSync("ip", ["-n", sw, "link", "set", "br0", "up"]);
  execFileSync("ip", [
    "-n",
    node,
    "link",
    "add",
    "eth0",
    "type",
    "veth",
    "peer",
    "name",
    "port",
    "netns",
    sw,
  ]);
  execFileSync("ip", ["-n", sw, "link", "set", "port", "master", "br0", "up"]);
  if (opts.hairpin)
    execFileSync("ip", ["-n", sw, "link", "set", "port", "type", "bridge_slave", "hairpin", "on"]);
  execFileSync("ip", ["-n", node, "link", "set", "eth0", "up"]);
  const run = pluginRunner(
    createMacvlanPlugin({
      kernel,
      hostNs: namedNetns(node),
      delegates: { linked: { "strata-ipam": ipamPlugin } },
    }),
  );
  return { sw, node, run };
}

const conf = (network: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.1.0",
  name: network,
  type: "strata-macvlan",
  master: "eth0",
  ipam: { type: "strata-ipam", dataDir: data, ranges: [[{ subnet: "10.70.0.0/24" }]] },
  ...extra,
});

type Runner = ReturnType<typeof pluginRunner>;
const call = (
  run: Runner,
  command: string,
  containerId: string,
  netns: string,
  stdin: object,
  ifName = "net1",
) =>
  run({
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: ifName,
      CNI_PATH: "/nonexistent",
    },
    stdin: JSON.stringify(stdin),
  });

async function addOk(run: Runner, id: string, pod: string, stdin: object) {
  const out = await call(run, "ADD", id, nss.path(pod), stdin);
  assert.equal(out.exitCode, 0, out.stdout);
  return JSON.parse(out.stdout) as {
    ips: { address: string }[];
    interfaces: { name: string; mac: string }[];
  };
}
const reservations = (network: string) => {
  try {
    return readdirSync(join(data, network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
};
const linkOf = (ns: string, dev: string) =>
  ipJson<
    {
      ifname: string;
      mtu: number;
      link_index?: number;
      linkinfo?: { info_kind: string; info_data?: { mode?: string } };
    }[]
  >(ns, ["-d", "link", "show", "dev", dev])[0];
const hasLink = (ns: string, dev: string) =>
  ipJson<{ ifname: string }[]>(ns, ["link", "show"]).some((l) => l.ifname === dev);
const addressOf = (r: { ips: { address: string }[] }) => (r.ips[0]?.address ?? "").split("/")[0] as string;

describe("strata-macvlan in real namespaces", () => {
  before(async () => {
    sandbox = await new CniSandbox().install();
  });
  after(() => {
    nss.cleanup();
    sandbox?.cleanup();
    rmSync(data, { recursive: true, force: true });
  });

  for (const mode of macvlanModes) {
    test(`mode ${mode}: ADD makes a ${mode} macvlan on the master in the pod, CHECK passes and fails 103 when broken, DEL removes it and the address`, async () => {
      const { node, run } = nodeOnSwitch();
      const pod = nss.create("pod");
      const network = `mode-${mode}`;
      const result = await addOk(run, "c1", pod, conf(network, { mode, mtu: 1400 }));
      const link = linkOf(pod, "net1");
      assert.equal(link?.linkinfo?.info_kind, "macvlan");
      assert.equal(link?.linkinfo?.info_data?.mode, mode);
      assert.equal(link?.mtu, 1400);
      const eth0 = ipJson<{ ifindex: number }[]>(node, ["link", "show", "eth0"])[0]?.ifindex;
      assert.equal(link?.link_index, eth0, "its parent is the node's eth0");
      assert.equal(
        result.interfaces[0]?.mac,
        ipJson<{ address: string }[]>(pod, ["link", "show", "net1"])[0]?.address,
      );
      assert.deepEqual(reservations(network), [addressOf(result)]);

      const check = () =>
        call(run, "CHECK", "c1", nss.path(pod), conf(network, { mode, mtu: 1400, prevResult: result }));
      assert.equal((await check()).exitCode, 0);
      execFileSync("ip", ["-n", pod, "addr", "flush", "dev", "net1"]);
      const broken = await check();
      assert.equal(JSON.parse(broken.stdout).code, 103);

      const del = await call(run, "DEL", "c1", nss.path(pod), conf(network, { mode }));
      assert.equal(del.exitCode, 0, del.stdout);
      assert.equal(hasLink(pod, "net1"), false);
      assert.deepEqual(reservations(network), []);
      const again = await call(run, "DEL", "c1", nss.path(pod), conf(network, { mode }));
      assert.equal(again.exitCode, 0, "DEL is idempotent");
    });
  }

  test("bridge mode: two pods on one master reach each other; private mode: they do not", async () => {
    for (const [mode, talks] of [
      ["bridge", true],
      ["private", false],
    ] as const) {
      const { run } = nodeOnSwitch();
      const a = nss.create("a");
      const b = nss.create("b");
      const network = `talk-${mode}`;
      const ra = await addOk(run, "a", a, conf(network, { mode }));
      const rb = await addOk(run, "b", b, conf(network, { mode }));
      assert.equal(canPing(a, addressOf(rb)), talks, `${mode}: a → b`);
      assert.equal(canPing(b, addressOf(ra)), talks, `${mode}: b → a`);
      await call(run, "DEL", "a", nss.path(a), conf(network, { mode }));
      await call(run, "DEL", "b", nss.path(b), conf(network, { mode }));
    }
  });

  test("vepa mode: pods talk only when the external switch hairpins their frames back", async () => {
    for (const hairpin of [false, true]) {
      const { run } = nodeOnSwitch({ hairpin });
      const a = nss.create("a");
      const b = nss.create("b");
      const network = `vepa-${hairpin}`;
      await addOk(run, "a", a, conf(network, { mode: "vepa" }));
      const rb = await addOk(run, "b", b, conf(network, { mode: "vepa" }));
      assert.equal(canPing(a, addressOf(rb)), hairpin, `hairpin ${hairpin}`);
      await call(run, "DEL", "a", nss.path(a), conf(network));
      await call(run, "DEL", "b", nss.path(b), conf(network));
    }
  });

  test("passthru: a second macvlan on the same master is a clear code 7; the first pod keeps its link and nothing is reserved for the second", async () => {
    const { run } = nodeOnSwitch();
    const a = nss.create("a");
    const b = nss.create("b");
    const network = "passthru-two";
    const first = await addOk(run, "a", a, conf(network, { mode: "passthru" }));
    const second = await call(run, "ADD", "b", nss.path(b), conf(network, { mode: "passthru" }));
    assert.equal(second.exitCode, 1);
    const e = JSON.parse(second.stdout);
    assert.equal(e.code, 7);
    assert.match(e.msg, /passthru/);
    assert.match(e.msg, /master eth0 already has a macvlan/);
    assert.match(e.details, /one passthru macvlan per master/);
    assert.equal(hasLink(b, "net1"), false);
    assert.equal(hasLink(a, "net1"), true);
    assert.deepEqual(reservations(network), [addressOf(first)]);
    const bridgeBeside = await call(run, "ADD", "b", nss.path(b), conf(network, { mode: "bridge" }));
    assert.equal(JSON.parse(bridgeBeside.stdout).code, 7, "no macvlan of any mode beside a passthru one");
    await call(run, "DEL", "a", nss.path(a), conf(network));
  });

  test("master from the node's default route when the configuration names none; no master and no default route is code 7", async () => {
    const { node, run } = nodeOnSwitch();
    execFileSync("ip", ["-n", node, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"]);
    execFileSync("ip", ["-n", node, "link", "set", "eth1", "up"]);
    const pod = nss.create("pod");
    const noMaster = conf("default-master", { master: undefined });
    const none = await call(run, "ADD", "c1", nss.path(pod), noMaster);
    assert.equal(JSON.parse(none.stdout).code, 7);
    assert.match(JSON.parse(none.stdout).msg, /no "master" given and the node has no default route/);
    assert.deepEqual(reservations("default-master"), []);

    execFileSync("ip", ["-n", node, "addr", "add", "192.168.77.2/24", "dev", "eth1"]);
    execFileSync("ip", ["-n", node, "route", "add", "default", "via", "192.168.77.1", "dev", "eth1"]);
    await addOk(run, "c1", pod, noMaster);
    const eth1 = ipJson<{ ifindex: number }[]>(node, ["link", "show", "eth1"])[0]?.ifindex;
    assert.equal(
      linkOf(pod, "net1")?.link_index,
      eth1,
      "the pod's macvlan hangs from eth1, the default route's",
    );
    await call(run, "DEL", "c1", nss.path(pod), noMaster);
  });

  test("an MTU above the master's is code 7 naming both, and ADD leaves nothing", async () => {
    const { run } = nodeOnSwitch();
    const pod = nss.create("pod");
    const out = await call(run, "ADD", "c1", nss.path(pod), conf("big-mtu", { mtu: 9000 }));
    const e = JSON.parse(out.stdout);
    assert.equal(e.code, 7);
    assert.match(e.msg, /mtu 9000 is larger than master eth0's MTU 1500/);
    assert.equal(hasLink(pod, "net1"), false);
    assert.deepEqual(reservations("big-mtu"), []);
  });

  test("a failed ADD leaves nothing: IPAM failing removes the link; a taken CNI_IFNAME is code 4 and reserves nothing", async () => {
    const { run } = nodeOnSwitch();
    const pod = nss.create("pod");
    const missingIpam = conf("bad-ipam", { ipam: { type: "no-such-ipam" } });
    const out = await call(run, "ADD", "c1", nss.path(pod), missingIpam);
    assert.equal(JSON.parse(out.stdout).code, 7);
    assert.match(JSON.parse(out.stdout).msg, /no-such-ipam/);
    assert.equal(hasLink(pod, "net1"), false, "the undo stack deleted the macvlan");

    execFileSync("ip", ["-n", pod, "link", "add", "net1", "type", "veth", "peer", "name", "other"]);
    const taken = await call(run, "ADD", "c2", nss.path(pod), conf("taken"));
    const e = JSON.parse(taken.stdout);
    assert.equal(e.code, 4);
    assert.match(e.msg, /CNI_IFNAME net1 already exists/);
    assert.deepEqual(reservations("taken"), []);
    // The runtime's DEL after that failure leaves the other interface alone (it is not a macvlan).
    assert.equal((await call(run, "DEL", "c2", nss.path(pod), conf("taken"))).exitCode, 0);
    assert.equal(hasLink(pod, "net1"), true);
  });

  test("the node cannot reach its pods' macvlan addresses through the master; giveNodeMacvlan fixes it", async () => {
    const { node, run } = nodeOnSwitch();
    execFileSync("ip", ["-n", node, "addr", "add", "10.70.0.250/24", "dev", "eth0"]);
    const pod = nss.create("pod");
    const r = await addOk(run, "c1", pod, conf("reach"));
    assert.equal(canPing(node, addressOf(r)), false, "the caveat: a macvlan cannot talk to its parent");
    await giveNodeMacvlan(kernel, namedNetns(node), {
      name: "mv-node",
      master: "eth0",
      address: "10.70.0.254/32",
      podCidrs: ["10.70.0.0/24"],
    });
    assert.equal(canPing(node, addressOf(r)), true, "through the node's own macvlan");
    await giveNodeMacvlan(kernel, namedNetns(node), {
      name: "mv-node",
      master: "eth0",
      address: "10.70.0.254/32",
      podCidrs: ["10.70.0.0/24"],
    });
    await removeNodeMacvlan(kernel, namedNetns(node), "mv-node");
    assert.equal(hasLink(node, "mv-node"), false);
    await call(run, "DEL", "c1", nss.path(pod), conf("reach"));
  });

  test("GC frees an address no attachment holds; STATUS is 50 when the master is gone", async () => {
    const { node, run } = nodeOnSwitch();
    const pod = nss.create("pod");
    await addOk(run, "c1", pod, conf("gcnet"));
    assert.equal(reservations("gcnet").length, 1);
    const gc = await run({
      env: { CNI_COMMAND: "GC", CNI_PATH: "/x" },
      stdin: JSON.stringify(conf("gcnet", { "cni.dev/valid-attachments": [] })),
    });
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.deepEqual(reservations("gcnet"), []);
    const status = () =>
      run({ env: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" }, stdin: JSON.stringify(conf("gcnet")) });
    assert.equal((await status()).exitCode, 0);
    execFileSync("ip", ["-n", node, "link", "del", "eth0"]);
    const down = JSON.parse((await status()).stdout);
    assert.equal(down.code, 50);
    assert.match(down.msg, /master eth0 does not exist/);
  });

  test("the executable chains with Debian's tuning plugin (prevResult in, its sysctl and MAC applied to our interface)", async () => {
    const { node } = nodeOnSwitch();
    const pod = nss.create("pod");
    const list: ConfList = {
      cniVersion: "1.0.0",
      name: "chained",
      plugins: [
        { type: "strata-macvlan", master: "eth0", ipam: conf("chained").ipam },
        { type: "tuning", mac: "02:aa:bb:cc:dd:01", sysctl: { "net.ipv4.conf.net1.arp_ignore": "1" } },
      ],
    };
    const att = { containerId: "c1", netns: nss.path(pod), ifName: "net1" };
    const rt = sandbox.runtime(node, { STRATA_NO_AGENT: "1" });
    const result = (await addNetworkList(list, att, rt)) as { interfaces: { mac: string }[] };
    assert.equal(result.interfaces[0]?.mac, "02:aa:bb:cc:dd:01");
    assert.equal(
      ipJson<{ address: string }[]>(pod, ["link", "show", "net1"])[0]?.address,
      "02:aa:bb:cc:dd:01",
    );
    assert.equal(
      execFileSync("ip", ["netns", "exec", pod, "cat", "/proc/sys/net/ipv4/conf/net1/arp_ignore"], {
        encoding: "utf8",
      }).trim(),
      "1",
    );
    await delNetworkList(list, att, rt, result);
    assert.equal(hasLink(pod, "net1"), false);
    assert.deepEqual(reservations("chained"), []);
  });

  test("Debian's reference macvlan and strata-macvlan give the same result shape for the same configuration", async () => {
    const { node } = nodeOnSwitch();
    const shapes: unknown[] = [];
    for (const type of ["macvlan", "strata-macvlan"]) {
      const pod = nss.create("pod");
      const stdin = JSON.stringify({
        cniVersion: "1.0.0",
        name: `shape-${type}`,
        type,
        master: "eth0",
        mode: "bridge",
        mtu: 1400,
        ipam: {
          type: "host-local",
          dataDir: data,
          ranges: [[{ subnet: "10.74.0.0/24" }]],
          routes: [{ dst: "10.80.0.0/16" }],
        },
      });
      const att = { containerId: "c1", netns: nss.path(pod), ifName: "net1" };
      const out = await runPlugin(type, "ADD", stdin, att, sandbox.runtime(node, { STRATA_NO_AGENT: "1" }));
      assert.equal(out.exitCode, 0, `${type}: ${out.stdout}`);
      const r = JSON.parse(out.stdout);
      assert.match(r.interfaces[0].mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      assert.equal(r.interfaces[0].sandbox, nss.path(pod));
      // Same keys, same values, except the MAC each picked.
      r.interfaces[0].mac = "<mac>";
      r.interfaces[0].sandbox = "<netns>";
      shapes.push(r);
      assert.equal(linkOf(pod, "net1")?.mtu, 1400);
      assert.deepEqual(
        ipJson<{ dst: string; gateway?: string }[]>(pod, ["route", "show", "10.80.0.0/16"]).map(
          (x) => x.gateway,
        ),
        ["10.74.0.1"],
        `${type}: the IPAM route goes via the range's gateway`,
      );
      const del = await runPlugin(type, "DEL", stdin, att, sandbox.runtime(node, { STRATA_NO_AGENT: "1" }));
      assert.equal(del.exitCode, 0, del.stdout);
    }
    assert.deepEqual(shapes[1], shapes[0]);
  });
});
