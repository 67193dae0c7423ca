import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KeyValue } from "../datastore/api.js";
import {
  checkLease,
  type LeaseCheckMemo,
  type LeasePolicy,
  subnetKey,
  validateLeases,
} from "./lease-validation.js";
import type { NodeLease } from "./node-lease.js";

const policy: LeasePolicy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };
const lease = (o: Partial<NodeLease> = {}): NodeLease => ({
  node: "n2",
  subnet: "10.244.2.0/24",
  publicIp: "192.168.10.12",
  publicPrefix: 24,
  backend: "vxlan",
  backendData: { vtepMac: "02:11:22:33:44:55", vni: "1" },
  ...o,
});
let revision = 0;
const kv = (value: unknown, o: Partial<KeyValue> = {}): KeyValue => {
  revision++;
  const v = value as NodeLease;
  return {
    key: typeof v?.subnet === "string" ? subnetKey(v.subnet) : "/strata/subnets/x",
    value: typeof value === "string" ? value : JSON.stringify(value),
    createRevision: revision,
    modRevision: revision,
    ...o,
  };
};
const reasonOf = (k: KeyValue, p = policy) => {
  const r = checkLease(k, p);
  return r.ok ? "ok" : r.rejected.reason;
};

describe("a single lease's rules", () => {
  test("a well-formed lease inside the cluster CIDR, at the per-node length, under its own key, passes", () => {
    const r = checkLease(kv(lease()), policy);
    assert.equal(r.ok, true);
    assert.deepEqual(r.ok && r.lease, lease());
  });

  test("a value that is not JSON, or not a lease object, is malformed", () => {
    assert.equal(reasonOf(kv("{not json", { key: subnetKey("10.244.2.0/24") })), "malformed");
    assert.equal(reasonOf(kv("[]", { key: subnetKey("10.244.2.0/24") })), "malformed");
    assert.equal(reasonOf(kv({ subnet: "10.244.2.0/24" })), "malformed");
  });

  test("each field has a format: node name, subnet, publicIp, publicPrefix, backend, backendData", () => {
    for (const bad of [
      { node: "" },
      { node: "N2; rm -rf" },
      { node: "a".repeat(254) },
      { subnet: "10.244.2.0/33" },
      { subnet: "10.244.2/24" },
      { publicIp: "192.168.10.300" },
      { publicIp: "192.168.010.12" },
      { publicPrefix: 33 },
      { publicPrefix: 24.5 },
      { backend: "VXLAN " },
      { backendData: { vtepMac: "ff:ff:ff:ff:ff:ff" } },
      { backendData: { vtepMac: "02:11:22:33:44" } },
      { backendData: { vni: "16777216" } },
      { backendData: { "bad key": "x" } },
      { backendData: { note: "line\nbreak" } },
      { backendData: { note: "x".repeat(257) } },
      { backendData: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
    ] as Partial<NodeLease>[]) {
      const k = kv(lease(bad), { key: subnetKey("10.244.2.0/24") });
      assert.equal(reasonOf(k), "malformed", JSON.stringify(bad));
    }
  });

  test("a wireguard lease's key is 32 bytes in base64 and its port 1-65535; anything else is malformed and named", () => {
    const key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const wg = (d: Record<string, string>) => lease({ backend: "wireguard", backendData: d });
    assert.equal(reasonOf(kv(wg({ wgPublicKey: key, wgListenPort: "51820" }))), "ok");
    assert.equal(reasonOf(kv(wg({ wgPublicKey: key, wgListenPort: "1" }))), "ok");
    for (const bad of [
      { wgPublicKey: key.slice(0, 43) }, // 43 characters: not 32 bytes
      { wgPublicKey: `${key.slice(0, 43)}A` }, // no padding
      { wgPublicKey: `${key.slice(0, 42)}B=` }, // 'B' leaves non-zero bits past the 32nd byte
      { wgPublicKey: "yAnz5TF-lXXJte14tji3zlMNq_hd2rYUIgJBgB3fBmk=" }, // base64url, not base64
      { wgPublicKey: `${key} ` },
      { wgPublicKey: key, wgListenPort: "0" },
      { wgPublicKey: key, wgListenPort: "65536" },
      { wgPublicKey: key, wgListenPort: "051820" },
      { wgPublicKey: key, wgListenPort: "5182O" },
    ] as Record<string, string>[]) {
      const r = checkLease(kv(wg(bad)), policy);
      assert.equal(r.ok, false, JSON.stringify(bad));
      assert.match(
        !r.ok ? r.rejected.detail : "",
        /backendData\.wg(PublicKey|ListenPort)/,
        JSON.stringify(bad),
      );
    }
  });

  test("the detail of a malformed lease names the field", () => {
    const r = checkLease(kv(lease({ publicIp: "nope" })), policy);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.rejected.detail : "", /publicIp/);
    assert.equal(!r.ok && r.rejected.node, "n2");
  });

  test("a subnet with host bits set is malformed", () => {
    assert.equal(reasonOf(kv(lease({ subnet: "10.244.2.7/24" }))), "malformed");
  });

  test("the key must name the lease's own subnet", () => {
    assert.equal(reasonOf(kv(lease(), { key: subnetKey("10.244.9.0/24") })), "key-mismatch");
  });

  test("the subnet must lie inside the cluster CIDR", () => {
    assert.equal(reasonOf(kv(lease({ subnet: "203.0.113.0/24" }))), "outside-cluster-cidr");
    assert.equal(reasonOf(kv(lease({ subnet: "10.0.0.0/8" }))), "outside-cluster-cidr");
    assert.equal(reasonOf(kv(lease({ subnet: "fd00::/120" }))), "outside-cluster-cidr");
  });

  test("the subnet must have the configured per-node prefix length", () => {
    assert.equal(reasonOf(kv(lease({ subnet: "10.244.2.0/25" }))), "wrong-prefix-length");
    assert.equal(reasonOf(kv(lease({ subnet: "10.244.0.0/23" }))), "wrong-prefix-length");
    assert.equal(reasonOf(kv(lease({ subnet: "10.244.2.0/25" })), { ...policy, subnetLen: 25 }), "ok");
  });

  test("publicIp must be a usable node address outside the cluster CIDR", () => {
    for (const ip of ["0.0.0.0", "127.0.0.1", "224.0.0.5", "255.255.255.255", "10.244.7.1"])
      assert.equal(reasonOf(kv(lease({ publicIp: ip }))), "bad-public-ip", ip);
  });
});

describe("the lease set", () => {
  test("an overlapping lease (a /25 inside n2's /24) is rejected and n2 keeps its routes", () => {
    const n2 = kv(lease());
    const forged = kv(lease({ node: "n9", subnet: "10.244.2.0/25", publicIp: "192.168.10.99" }));
    const r = validateLeases([forged, n2], policy);
    assert.deepEqual(
      r.leases.map((l) => l.node),
      ["n2"],
    );
    assert.deepEqual(
      r.rejected.map((x) => [x.key, x.reason]),
      [[subnetKey("10.244.2.0/25"), "wrong-prefix-length"]],
    );
  });

  test("of two overlapping leases the older one wins, whatever the order they are read in", () => {
    // One store never holds two values under one key; the rule is there for any view that does.
    const loose: LeasePolicy = { clusterCidr: "10.244.0.0/16", subnetLen: 24 };
    const older = kv(lease({ node: "a", subnet: "10.244.4.0/24", publicIp: "192.168.10.1" }));
    const newer = kv(lease({ node: "b", subnet: "10.244.4.0/24", publicIp: "192.168.10.2" }), {
      key: subnetKey("10.244.4.0/24"),
    });
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const r = validateLeases(order, loose);
      assert.deepEqual(
        r.leases.map((l) => l.node),
        ["a"],
      );
      assert.equal(r.rejected[0]?.reason, "overlap");
      assert.equal(r.rejected[0]?.node, "b");
      assert.equal(r.rejected[0]?.winner, older.key);
    }
  });

  test("a second lease naming an existing node, or its public address, loses to the older one", () => {
    const n2 = kv(lease());
    const sameNode = kv(lease({ subnet: "10.244.3.0/24", publicIp: "192.168.10.50" }));
    const sameIp = kv(lease({ node: "evil", subnet: "10.244.4.0/24" }));
    const r = validateLeases([sameIp, sameNode, n2], policy);
    assert.deepEqual(
      r.leases.map((l) => l.subnet),
      ["10.244.2.0/24"],
    );
    assert.deepEqual(r.rejected.map((x) => x.reason).sort(), ["duplicate-node", "duplicate-public-ip"]);
  });

  test("a forged older lease wins over the node's own: the node's lease is the one rejected", () => {
    const forged = kv(lease({ node: "evil", subnet: "10.244.9.0/24" }));
    const own = kv(lease());
    const r = validateLeases([own, forged], policy);
    assert.equal(r.rejected[0]?.key, own.key);
    assert.equal(r.rejected[0]?.reason, "duplicate-public-ip");
  });

  test("a forged lease for 203.0.113.0/24 and a malformed one are dropped; every valid lease stays", () => {
    const good = [1, 2, 3].map((i) =>
      kv(lease({ node: `n${i}`, subnet: `10.244.${i}.0/24`, publicIp: `192.168.10.${10 + i}` })),
    );
    const forged = kv(lease({ node: "n9", subnet: "203.0.113.0/24", publicIp: "192.168.10.99" }));
    const garbage = kv("\u0000garbage", { key: subnetKey("10.244.8.0/24") });
    const r = validateLeases([forged, ...good, garbage], policy);
    assert.deepEqual(
      r.leases.map((l) => l.node),
      ["n1", "n2", "n3"],
    );
    assert.deepEqual(r.rejected.map((x) => x.reason).sort(), ["malformed", "outside-cluster-cidr"]);
  });
});

test("with a memo, a lease is re-checked when its modRevision changes, and vanished keys are forgotten", () => {
  const memo: LeaseCheckMemo = new Map();
  const good = kv(lease());
  assert.equal(validateLeases([good], policy, memo).leases.length, 1);
  const broken = {
    ...good,
    value: JSON.stringify(lease({ publicIp: "127.0.0.1" })),
    modRevision: good.modRevision + 5,
  };
  assert.equal(validateLeases([broken], policy, memo).rejected[0]?.reason, "bad-public-ip");
  validateLeases([], policy, memo);
  assert.equal(memo.size, 0);
});

test("validators in one process share checks only under equal rules: same lease object for the same value, not across policies", () => {
  const a = kv(lease({ node: "shared-1", subnet: "10.244.77.0/24", publicIp: "192.168.10.77" }));
  // Two agents of one agent host: their own memos and policy objects, the same rules.
  const first = validateLeases([a], { ...policy }, new Map()).leases[0];
  const second = validateLeases([{ ...a }], { ...policy }, new Map()).leases[0];
  assert.ok(first);
  assert.equal(second, first, "one check of the value, handed to both");
  // Other rules (a /25 per node): the cached /24 verdict must not be reused.
  const narrow = validateLeases([a], { ...policy, subnetLen: 25 }, new Map());
  assert.equal(narrow.leases.length, 0);
  assert.equal(narrow.rejected[0]?.reason, "wrong-prefix-length");
  // The same key with another value is checked anew.
  const moved = {
    ...a,
    value: JSON.stringify(lease({ node: "shared-1", subnet: "10.244.77.0/24", publicIp: "127.0.0.1" })),
  };
  assert.equal(validateLeases([moved], policy, new Map()).rejected[0]?.reason, "bad-public-ip");
});

test("a memo keeps exactly the keys of the last list", () => {
  const memo: LeaseCheckMemo = new Map();
  const x = kv(lease({ node: "m1", subnet: "10.244.81.0/24", publicIp: "192.168.10.81" }));
  const y = kv(lease({ node: "m2", subnet: "10.244.82.0/24", publicIp: "192.168.10.82" }));
  validateLeases([x, y], policy, memo);
  assert.deepEqual([...memo.keys()].sort(), [x.key, y.key].sort());
  validateLeases([y], policy, memo);
  assert.deepEqual([...memo.keys()], [y.key]);
});
