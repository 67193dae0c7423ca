import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { inNetns, TestNamespaces } from "../../../test/support/netns.js";
import { recordingIproute2Kernel } from "../../../test/support/recording-kernel.js";
import { type Kernel, type KernelOp, namedNetns } from "../api.js";
import { isKernelError, type KernelError } from "../errors.js";
import { loadRtnetlinkAddon, withRtnetlink } from "./driver.js";

const addon = loadRtnetlinkAddon();

/** tso/gso/gro of `dev` as the real `ethtool -k` reads them. */
function features(ns: string, dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of inNetns(ns, ["ethtool", "-k", dev]).split("\n")) {
    const m =
      /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): (on|off)/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

const off = { "tcp-segmentation-offload": "off", "generic-segmentation-offload": "off" };

/**
 * link.offload through both drivers on real veths: the iproute2 driver runs `ethtool -K`, the
 * rtnetlink driver the ethtool ioctl with no process; `ethtool -k` reads the same settings back,
 * and a failure is of the same kind from both.
 */
describe("link.offload: a veth's tso/gso/gro set through ethtool and through the ethtool ioctl", {
  skip: !addon && "addon not built",
}, () => {
  const nss = new TestNamespaces("offl");
  const { kernel: ip, programs: spawned } = recordingIproute2Kernel();
  const drivers: [string, Kernel][] = [
    ["iproute2", ip],
    ["rtnetlink", withRtnetlink(ip, addon)],
  ];
  after(() => nss.cleanup());

  /** A namespace with a veth pair v0/v1 whose tso/gso are on and gro off (ethtool's own doing). */
  async function vethNs(): Promise<string> {
    const name = nss.create("v");
    await ip.apply(namedNetns(name), [
      { op: "link.add", spec: { kind: "veth", name: "v0", peer: { name: "v1" } } },
    ]);
    inNetns(name, ["ethtool", "-K", "v0", "tso", "on", "gso", "on", "gro", "off"]);
    assert.deepEqual(features(name, "v0"), {
      "tcp-segmentation-offload": "on",
      "generic-segmentation-offload": "on",
      "generic-receive-offload": "off",
    });
    return name;
  }

  for (const [label, kernel] of drivers) {
    test(`${label}: tso and gso go off and gro on, as ethtool -k reads them; and back`, async () => {
      const name = await vethNs();
      await kernel.apply(namedNetns(name), [
        { op: "link.offload", name: "v0", tso: false, gso: false },
        { op: "link.offload", name: "v1", tso: false, gso: false, gro: true },
        { op: "link.offload", name: "v0", gro: true },
      ]);
      for (const dev of ["v0", "v1"])
        assert.deepEqual(features(name, dev), { ...off, "generic-receive-offload": "on" }, dev);
      await kernel.apply(namedNetns(name), [{ op: "link.offload", name: "v0", tso: true, gro: false }]);
      assert.deepEqual(features(name, "v0"), {
        "tcp-segmentation-offload": "on",
        "generic-segmentation-offload": "off",
        "generic-receive-offload": "off",
      });
    });
  }

  test("a missing link is not-found from both, naming the op that failed (the ones before it applied)", async () => {
    const kinds: string[] = [];
    for (const [label, kernel] of drivers) {
      const name = await vethNs();
      const ops: KernelOp[] = [
        { op: "link.offload", name: "v0", tso: false },
        { op: "link.offload", name: "nosuch0", gso: false },
        { op: "link.offload", name: "v1", gro: true },
      ];
      const err = await kernel.apply(namedNetns(name), ops).then(
        () => assert.fail(`${label}: no error`),
        (e: unknown) => e as KernelError,
      );
      assert.ok(isKernelError(err), `${label}: ${String(err)}`);
      assert.equal(err.failedOpIndex, 1, label);
      assert.match(err.message, /nosuch0/, label);
      assert.equal(features(name, "v0")["tcp-segmentation-offload"], "off", label);
      assert.equal(features(name, "v1")["generic-receive-offload"], "off", label);
      kinds.push(err.kind);
    }
    assert.deepEqual(kinds, ["not-found", "not-found"]);
  });

  test("a missing namespace is not-found from both", async () => {
    const gone = namedNetns(`${nss.create("gone")}-not-made`);
    const kinds: string[] = [];
    for (const [, kernel] of drivers)
      kinds.push(
        await kernel.apply(gone, [{ op: "link.offload", name: "v0", tso: false }]).then(
          () => "no error",
          (e: unknown) => (isKernelError(e) ? e.kind : String(e)),
        ),
      );
    assert.deepEqual(kinds, ["not-found", "not-found"]);
  });

  test("rtnetlink starts no process for them (iproute2 starts one ethtool per op); among other ops, order and failedOpIndex hold", async () => {
    const name = await vethNs();
    const ns = namedNetns(name);
    const nl = withRtnetlink(ip, addon);
    spawned.length = 0;
    await nl.apply(ns, [
      { op: "link.add", spec: { kind: "veth", name: "w0", peer: { name: "w1" } } },
      { op: "link.offload", name: "w0", tso: false, gso: false },
      { op: "link.set", name: "w0", up: true },
      { op: "link.offload", name: "v0", tso: false, gso: false, gro: true },
    ]);
    assert.deepEqual(spawned, []);
    assert.deepEqual(features(name, "w0"), { ...off, "generic-receive-offload": "off" });
    assert.deepEqual(features(name, "v0"), { ...off, "generic-receive-offload": "on" });
    const err = await nl
      .apply(ns, [
        { op: "link.set", name: "w1", up: true },
        { op: "link.offload", name: "w1", gro: true },
        { op: "link.offload", name: "gone0", gro: true },
      ])
      .then(
        () => assert.fail("no error"),
        (e: unknown) => e as KernelError,
      );
    assert.equal(err.kind, "not-found");
    assert.equal(err.failedOpIndex, 2);
    assert.equal(features(name, "w1")["generic-receive-offload"], "on");
    assert.deepEqual(spawned, []);
    await ip.apply(ns, [{ op: "link.offload", name: "w1", gro: false }]);
    assert.equal(spawned.length, 1);
    assert.match(spawned.join("\n"), /ethtool -K w1 gro off$/);
  });

  test("an addon built before ethtoolSet: the ops go to ethtool and still take", async () => {
    const name = await vethNs();
    const old = withRtnetlink(ip, { ...(addon as NonNullable<typeof addon>), ethtoolSet: undefined });
    spawned.length = 0;
    await old.apply(namedNetns(name), [
      { op: "link.offload", name: "v0", tso: false, gso: false, gro: true },
    ]);
    assert.equal(spawned.length, 1);
    assert.match(spawned.join("\n"), /ethtool -K v0 tso off gso off gro on$/);
    assert.deepEqual(features(name, "v0"), { ...off, "generic-receive-offload": "on" });
  });
});
