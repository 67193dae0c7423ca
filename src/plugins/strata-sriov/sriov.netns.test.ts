import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { generateSriovNic } from "../../../test/support/sriov-sysfs.js";
import { pluginRunner } from "../../cni/skeleton.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { ipamPlugin } from "../strata-ipam/plugin.js";
import { createSriovPlugin } from "./plugin.js";

const kernel = createIproute2Kernel();
const nss = new TestNamespaces("sriov");
const data = mkdtempSync(join(tmpdir(), "strata-test-sriov-"));
const nics: { cleanup(): void }[] = [];

function setup(vfCount: number, label: string) {
  const node = nss.create("node");
  const fabric = nss.create("fabric");
  const nic = generateSriovNic({ nodeNs: node, fabricNs: fabric, vfCount, netdevPrefix: `${label}v` });
  nics.push(nic);
  const run = pluginRunner(
    createSriovPlugin({
      kernel,
      hostNs: namedNetns(node),
      delegates: { linked: { "strata-ipam": ipamPlugin } },
      pfCommand: nic.pfCommand,
      writeSysfs: nic.writeSysfs,
    }),
  );
  const claimsDir = join(data, `claims-${label}`);
  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: `sriov-${label}`,
    type: "strata-sriov",
    master: "pf0",
    sysfsRoot: nic.root,
    dataDir: claimsDir,
    ipam: { type: "strata-ipam", dataDir: data, ranges: [[{ subnet: "10.72.0.0/24" }]] },
    ...extra,
  });
  const call = (command: string, id: string, netns: string, stdin: object, ifName = "net1") =>
    run({
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: netns,
        CNI_IFNAME: ifName,
        CNI_PATH: "/x",
      },
      stdin: JSON.stringify(stdin),
    });
  const claims = () => {
    try {
      return readdirSync(join(claimsDir, "pf0")).sort();
    } catch {
      return [];
    }
  };
  const reservations = () => {
    try {
      return readdirSync(join(data, `sriov-${label}`)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    } catch {
      return [];
    }
  };
  const nodeLinks = () => ipJson<{ ifname: string; address: string }[]>(node, ["link", "show"]);
  return { node, fabric, nic, run, conf, call, claims, reservations, nodeLinks };
}

describe("strata-sriov on a generated sysfs tree (veth pairs standing in for VF netdevs)", () => {
  after(() => {
    nss.cleanup();
    for (const n of nics) n.cleanup();
    rmSync(data, { recursive: true, force: true });
  });

  test("netdevice: ADD claims a VF, configures it through the PF, moves its netdev into the pod as net1; two pods talk; CHECK passes; DEL gives it back as found", async () => {
    const s = setup(2, "nd");
    const original = s.nodeLinks().find((l) => l.ifname === "ndv0")?.address;
    const a = nss.create("a");
    const b = nss.create("b");
    const settings = {
      vlan: 100,
      vlanQoS: 3,
      spoofchk: "off",
      trust: "on",
      mac: "02:00:00:00:aa:01",
      mtu: 1400,
    };
    const out = await s.call("ADD", "a", nss.path(a), s.conf(settings));
    assert.equal(out.exitCode, 0, out.stdout);
    const result = JSON.parse(out.stdout);
    assert.deepEqual(result.interfaces, [
      { name: "net1", mac: "02:00:00:00:aa:01", sandbox: nss.path(a), pciID: "0000:3b:02.0" },
    ]);
    assert.deepEqual(s.nic.pfLog, [
      [
        "link",
        "set",
        "dev",
        "pf0",
        "vf",
        "0",
        "mac",
        "02:00:00:00:aa:01",
        "vlan",
        "100",
        "qos",
        "3",
        "spoofchk",
        "off",
        "trust",
        "on",
      ],
    ]);
    const podLink = ipJson<{ address: string; mtu: number }[]>(a, ["link", "show", "net1"])[0];
    assert.equal(podLink?.address, "02:00:00:00:aa:01");
    assert.equal(podLink?.mtu, 1400);
    assert.equal(
      s.nodeLinks().some((l) => l.ifname === "ndv0"),
      false,
      "the VF netdev left the node",
    );
    assert.deepEqual(s.claims(), ["vf0"]);

    const rb = JSON.parse((await s.call("ADD", "b", nss.path(b), s.conf())).stdout);
    assert.equal(rb.interfaces[0].pciID, "0000:3b:02.1");
    assert.ok(
      canPing(a, rb.ips[0].address.split("/")[0]),
      "pods on two VFs reach each other through the NIC's switch",
    );

    const check = await s.call("CHECK", "a", nss.path(a), s.conf({ ...settings, prevResult: result }));
    assert.equal(check.exitCode, 0, check.stdout);
    const wrongMac = await s.call(
      "CHECK",
      "a",
      nss.path(a),
      s.conf({ ...settings, mac: "02:00:00:00:aa:09", prevResult: result }),
    );
    assert.equal(JSON.parse(wrongMac.stdout).code, 103);

    const del = await s.call("DEL", "a", nss.path(a), s.conf(settings));
    assert.equal(del.exitCode, 0, del.stdout);
    assert.equal(
      s.nodeLinks().find((l) => l.ifname === "ndv0")?.address,
      original,
      "back under its name with its MAC",
    );
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(a, ["link", "show"]).map((l) => l.ifname),
      ["lo"],
    );
    assert.deepEqual(s.nic.pfLog.at(-1), [
      "link",
      "set",
      "dev",
      "pf0",
      "vf",
      "0",
      "mac",
      original,
      "vlan",
      "0",
      "spoofchk",
      "on",
      "trust",
      "off",
    ]);
    assert.deepEqual(s.claims(), ["vf1"]);
    assert.equal((await s.call("DEL", "a", nss.path(a), s.conf(settings))).exitCode, 0, "DEL is idempotent");
    await s.call("DEL", "b", nss.path(b), s.conf());
    assert.deepEqual(s.claims(), []);
    assert.deepEqual(s.reservations(), []);
  });

  test("vfio-pci (DPDK): ADD binds the VF through driver_override, unbind and drivers_probe, moves no netdev and returns the PCI address; DEL rebinds the original driver", async () => {
    const s = setup(1, "dp");
    const pod = nss.create("pod");
    const conf = s.conf({ deviceType: "vfio-pci", ipam: undefined, vlan: 7 });
    const out = await s.call("ADD", "d", nss.path(pod), conf);
    assert.equal(out.exitCode, 0, out.stdout);
    const result = JSON.parse(out.stdout);
    assert.deepEqual(result.interfaces, [{ name: "net1", sandbox: nss.path(pod), pciID: "0000:3b:02.0" }]);
    assert.deepEqual(result.ips, []);
    const vf = s.nic.vfs[0] as { dir: string; pci: string };
    assert.deepEqual(
      s.nic.writes.map((w) => [w.path.replace(s.nic.root, ""), w.value]),
      [
        ["/bus/pci/devices/0000:3b:02.0/driver_override", "vfio-pci"],
        ["/bus/pci/devices/0000:3b:02.0/driver/unbind", "0000:3b:02.0"],
        ["/bus/pci/drivers_probe", "0000:3b:02.0"],
      ],
    );
    assert.equal(s.nic.driverOf(0), "vfio-pci");
    assert.equal(
      s.nodeLinks().some((l) => l.ifname === "dpv0"),
      true,
      "no netdev moved",
    );
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(pod, ["link", "show"]).map((l) => l.ifname),
      ["lo"],
    );
    assert.deepEqual(s.nic.pfLog, [["link", "set", "dev", "pf0", "vf", "0", "vlan", "7", "qos", "0"]]);
    assert.equal((await s.call("CHECK", "d", nss.path(pod), { ...conf, prevResult: result })).exitCode, 0);

    assert.equal((await s.call("DEL", "d", nss.path(pod), conf)).exitCode, 0);
    assert.equal(s.nic.driverOf(0), "iavf");
    assert.equal(readFileSync(join(vf.dir, "driver_override"), "utf8"), "\n");
    assert.deepEqual(s.claims(), []);
    const broken = await s.call("CHECK", "d", nss.path(pod), { ...conf, prevResult: result });
    assert.equal(JSON.parse(broken.stdout).code, 103, "CHECK after DEL: no VF claimed");
  });

  test("8 concurrent ADDs on 4 VFs: 4 get a VF each (all different), 4 get code 11, nothing is claimed or reserved twice", async () => {
    const s = setup(4, "cc");
    const pods = Array.from({ length: 8 }, () => nss.create("p"));
    const outs = await Promise.all(pods.map((p, i) => s.call("ADD", `c${i}`, nss.path(p), s.conf())));
    const ok = outs.filter((o) => o.exitCode === 0).map((o) => JSON.parse(o.stdout));
    const failed = outs.filter((o) => o.exitCode !== 0).map((o) => JSON.parse(o.stdout));
    assert.equal(ok.length, 4);
    assert.equal(new Set(ok.map((r) => r.interfaces[0].pciID)).size, 4);
    assert.deepEqual(
      failed.map((e) => e.code),
      [11, 11, 11, 11],
    );
    assert.match(failed[0].msg, /no free virtual function on PF pf0 \(4 enabled, all claimed\)/);
    assert.deepEqual(s.claims(), ["vf0", "vf1", "vf2", "vf3"]);
    assert.equal(s.reservations().length, 4);
    await Promise.all(pods.map((p, i) => s.call("DEL", `c${i}`, nss.path(p), s.conf())));
    assert.deepEqual(s.claims(), []);
    assert.deepEqual(s.reservations(), []);
    assert.equal(s.nodeLinks().filter((l) => /^ccv\d$/.test(l.ifname)).length, 4, "every netdev is home");
  });

  test("a failed ADD leaves nothing: IPAM failing returns the netdev, resets the VF and frees the claim", async () => {
    const s = setup(1, "fa");
    const pod = nss.create("pod");
    const out = await s.call("ADD", "f", nss.path(pod), s.conf({ ipam: { type: "no-such-ipam" } }));
    assert.equal(JSON.parse(out.stdout).code, 7);
    assert.deepEqual(s.claims(), []);
    assert.equal(
      s.nodeLinks().some((l) => l.ifname === "fav0"),
      true,
    );
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(pod, ["link", "show"]).map((l) => l.ifname),
      ["lo"],
    );
    assert.deepEqual(s.nic.pfLog.at(-1)?.slice(0, 6), ["link", "set", "dev", "pf0", "vf", "0"]);
    assert.equal(s.nic.pfLog.length, 2, "set, then reset");
  });

  test("DEL after the pod's namespace is gone still frees the claim and the address", async () => {
    const s = setup(1, "gn");
    const pod = nss.create("pod");
    assert.equal((await s.call("ADD", "g", nss.path(pod), s.conf())).exitCode, 0);
    execFileSync("ip", ["netns", "del", pod]);
    const del = await s.call("DEL", "g", nss.path(pod), s.conf());
    assert.equal(del.exitCode, 0, del.stdout);
    assert.deepEqual(s.claims(), []);
    assert.deepEqual(s.reservations(), []);
  });

  test("a PF with no VFs enabled, or not an SR-IOV device, is code 7 saying how to fix it; STATUS is 50", async () => {
    const s = setup(1, "nv");
    const pod = nss.create("pod");
    writeFileSync(join(s.nic.root, "class/net/pf0/device/sriov_numvfs"), "0\n");
    const none = JSON.parse((await s.call("ADD", "n", nss.path(pod), s.conf())).stdout);
    assert.equal(none.code, 7);
    assert.match(none.msg, /PF pf0 has no virtual functions enabled/);
    assert.match(none.details, /echo N > .*sriov_numvfs/);
    const notPf = JSON.parse((await s.call("ADD", "n", nss.path(pod), s.conf({ master: "eth9" }))).stdout);
    assert.match(notPf.msg, /PF eth9 is not an SR-IOV device/);
    const status = await s.run({
      env: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
      stdin: JSON.stringify(s.conf()),
    });
    assert.equal(JSON.parse(status.stdout).code, 50);
  });

  test("GC gives back the VFs of attachments the runtime no longer has", async () => {
    const s = setup(2, "gc");
    const a = nss.create("a");
    const b = nss.create("b");
    await s.call("ADD", "keep", nss.path(a), s.conf());
    await s.call("ADD", "gone", nss.path(b), s.conf());
    execFileSync("ip", ["netns", "del", b]);
    const gc = await s.run({
      env: { CNI_COMMAND: "GC", CNI_PATH: "/x" },
      stdin: JSON.stringify(
        s.conf({ "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "net1" }] }),
      ),
    });
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.deepEqual(s.claims(), ["vf0"]);
    assert.equal(s.reservations().length, 1);
    await s.call("DEL", "keep", nss.path(a), s.conf());
  });
});
