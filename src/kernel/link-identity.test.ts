import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Link, LinkSpec } from "./api.js";
import { planReconcile } from "./desired/plan.js";
import { noDesiredState } from "./desired/state.js";
import { linkMatchesSpec } from "./link-identity.js";

const link = (kind: string | undefined, extra: Partial<Link> = {}): Link => ({
  index: 7,
  name: "dev0",
  kind,
  mtu: 1500,
  up: true,
  operState: "UP",
  ...extra,
});

const vxlan: LinkSpec = {
  kind: "vxlan",
  name: "dev0",
  vni: 1,
  port: 8472,
  learning: false,
  local: "192.168.1.1",
};
const vxlanLink = link("vxlan", { vxlan: { vni: 1, port: 8472, local: "192.168.1.1", learning: false } });

describe("link identity per kind", () => {
  test("vxlan: the same VNI, port, local address and learning is the same device", () => {
    assert.equal(linkMatchesSpec(vxlan, vxlanLink), true);
    // MTU and MAC are settings, not identity.
    assert.equal(linkMatchesSpec(vxlan, { ...vxlanLink, mtu: 1450, mac: "02:00:00:00:00:01" }), true);
  });

  test("vxlan: another VNI, port, local address or learning is another device", () => {
    const v = vxlanLink.vxlan as NonNullable<Link["vxlan"]>;
    for (const other of [{ vni: 2 }, { port: 4789 }, { local: "192.168.1.9" }, { learning: true }])
      assert.equal(
        linkMatchesSpec(vxlan, { ...vxlanLink, vxlan: { ...v, ...other } }),
        false,
        JSON.stringify(other),
      );
  });

  test("vxlan: a spec without a local address takes any", () => {
    const { local: _, ...anyLocal } = vxlan as Extract<LinkSpec, { kind: "vxlan" }>;
    assert.equal(linkMatchesSpec(anyLocal, vxlanLink), true);
  });

  test("bridge and veth: the kind is the identity", () => {
    assert.equal(linkMatchesSpec({ kind: "bridge", name: "dev0" }, link("bridge")), true);
    assert.equal(linkMatchesSpec({ kind: "veth", name: "dev0", peer: { name: "p0" } }, link("veth")), true);
    assert.equal(
      linkMatchesSpec({ kind: "veth", name: "dev0", peer: { name: "p0" } }, link("bridge")),
      false,
    );
  });

  test("macvlan: its mode and parent", () => {
    const spec: LinkSpec = { kind: "macvlan", name: "dev0", parent: "eth0", mode: "bridge" };
    assert.equal(
      linkMatchesSpec(spec, link("macvlan", { macvlan: { mode: "bridge", parent: "eth0" } })),
      true,
    );
    assert.equal(
      linkMatchesSpec(spec, link("macvlan", { macvlan: { mode: "private", parent: "eth0" } })),
      false,
    );
    assert.equal(
      linkMatchesSpec(spec, link("macvlan", { macvlan: { mode: "bridge", parent: "eth1" } })),
      false,
    );
    // A parent in another namespace cannot be named: the mode still counts.
    assert.equal(linkMatchesSpec(spec, link("macvlan", { macvlan: { mode: "bridge" } })), true);
  });

  test("tun and tap: the kernel calls both 'tun'; their type tells them apart", () => {
    assert.equal(linkMatchesSpec({ kind: "tap", name: "dev0" }, link("tun", { tun: { type: "tap" } })), true);
    assert.equal(linkMatchesSpec({ kind: "tun", name: "dev0" }, link("tun", { tun: { type: "tun" } })), true);
    assert.equal(
      linkMatchesSpec({ kind: "tap", name: "dev0" }, link("tun", { tun: { type: "tun" } })),
      false,
    );
    assert.equal(
      linkMatchesSpec({ kind: "tun", name: "dev0" }, link("tun", { tun: { type: "tap" } })),
      false,
    );
  });

  test("a physical device (no kind) is no device a spec asks for", () => {
    assert.equal(linkMatchesSpec({ kind: "bridge", name: "dev0" }, link(undefined)), false);
    assert.equal(linkMatchesSpec({ kind: "dummy", name: "dev0" }, link(undefined)), false);
  });

  const specs: LinkSpec[] = [
    vxlan,
    { kind: "bridge", name: "dev0" },
    { kind: "veth", name: "dev0", peer: { name: "p0" } },
    { kind: "macvlan", name: "dev0", parent: "eth0", mode: "bridge" },
    { kind: "tun", name: "dev0" },
    { kind: "tap", name: "dev0" },
  ];
  for (const spec of specs) {
    test(`${spec.kind}: same name, other kind → replaced by the planner`, () => {
      const other = spec.kind === "bridge" ? link("veth") : link("bridge");
      const ops = planReconcile({ ...noDesiredState, devices: [spec] }, { ...emptyObserved, links: [other] });
      assert.deepEqual(
        ops.map((o) => o.op),
        ["link.delete", "link.add", "link.set"],
      );
      assert.deepEqual(ops[0], { op: "link.delete", name: "dev0", ifPresent: true });
    });
  }

  test("the same device: only its settings are corrected, never replaced", () => {
    const ops = planReconcile(
      { ...noDesiredState, devices: [{ kind: "bridge", name: "dev0", mtu: 1450 }] },
      { ...emptyObserved, links: [link("bridge", { up: false })] },
    );
    assert.deepEqual(ops, [
      { op: "link.set", name: "dev0", mtu: 1450 },
      { op: "link.set", name: "dev0", up: true },
    ]);
  });
});

const emptyObserved = { links: [], addresses: [], routes: [], neighbours: [], fdb: [] };
