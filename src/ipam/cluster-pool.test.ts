import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type EtcdProcess, startEtcd } from "../../test/support/etcd.js";
import { aliveNodes, NodeHeartbeat } from "../cluster/heartbeats.js";
import { eventually } from "../common/eventually.js";
import type { Datastore } from "../datastore/api.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { connectEtcd } from "../datastore/etcd/etcd-store.js";
import { type ClusterIpamConfig, parseClusterIpamConfig } from "./cluster-config.js";
import {
  allocateFromPool,
  type ClusterOwner,
  checkPool,
  collectStranded,
  gcPool,
  poolsPrefix,
  releaseFromPool,
  suspectsPrefix,
} from "./cluster-pool.js";

const config = (extra: Record<string, unknown> = {}, datastore = "embedded:/unused"): ClusterIpamConfig =>
  parseClusterIpamConfig({
    type: "strata-cluster-ipam",
    datastore,
    ranges: [[{ subnet: "10.60.0.0/24", rangeStart: "10.60.0.10", rangeEnd: "10.60.0.250" }]],
    ...extra,
  });
const owner = (containerId: string, node = "n1", ifName = "net1"): ClusterOwner => ({
  node,
  containerId,
  ifName,
  netns: `/run/netns/${containerId}`,
  network: "macvlan-conf",
});
const addresses = async (s: Datastore) =>
  (await s.list(poolsPrefix)).items.map((kv) => kv.key.slice(kv.key.lastIndexOf("/") + 1));

describe("cluster IPAM: ranges, exclusions, static requests", () => {
  test("the lowest free address not excluded, once per owner (ADD is idempotent), freed by DEL", async () => {
    const s = new EmbeddedStore();
    const c = config({ exclude: ["10.60.0.8/29", "10.60.0.17"] });
    const a = await allocateFromPool(s, c, owner("c1"), [], 1);
    assert.deepEqual(a.ips, [{ address: "10.60.0.16/24", gateway: "10.60.0.1" }]);
    const b = await allocateFromPool(s, c, owner("c2"), [], 1);
    assert.equal(b.ips[0]?.address, "10.60.0.18/24", ".17 is excluded");
    assert.deepEqual((await allocateFromPool(s, c, owner("c1"), [], 2)).ips, a.ips);
    await checkPool(s, c, owner("c1"), ["10.60.0.16/24"]);
    assert.deepEqual(await releaseFromPool(s, c, owner("c1")), ["10.60.0.16"]);
    assert.deepEqual(await releaseFromPool(s, c, owner("c1")), [], "DEL again frees nothing and succeeds");
    await assert.rejects(checkPool(s, c, owner("c1")), /holds no address of range set 0/);
    await s.close();
  });
  test("a static request gets its address, or says who holds it", async () => {
    const s = new EmbeddedStore();
    const c = config();
    const a = await allocateFromPool(s, c, { ...owner("c1"), pod: "team-a/web-1" }, ["10.60.0.100/24"], 1);
    assert.equal(a.ips[0]?.address, "10.60.0.100/24");
    await assert.rejects(
      allocateFromPool(s, c, owner("c2", "n2"), ["10.60.0.100"], 1),
      /requested IP 10.60.0.100 is already allocated to team-a\/web-1 on n1/,
    );
    await assert.rejects(
      allocateFromPool(s, c, owner("c3"), ["10.70.0.1"], 1),
      /10.70.0.1 is in no configured range/,
    );
    assert.deepEqual(await addresses(s), ["10.60.0.100"], "the refused requests left nothing");
    await s.close();
  });
  test("an exhausted range set is code 100, and what the call took in the sets before it goes back", async () => {
    const s = new EmbeddedStore();
    const c = parseClusterIpamConfig({
      type: "strata-cluster-ipam",
      datastore: "embedded:/x",
      ranges: [[{ subnet: "10.61.0.0/29" }], [{ subnet: "10.62.0.0/30" }]],
    });
    await allocateFromPool(s, c, owner("c1"), [], 1);
    await assert.rejects(allocateFromPool(s, c, owner("c2"), [], 1), (e: Error & { cniCode?: number }) => {
      return e.cniCode === 100 && /no free address in range set 1/.test(e.message);
    });
    assert.deepEqual(await addresses(s), ["10.61.0.2", "10.62.0.2"]);
    await s.close();
  });
  test("bad configuration names the key", () => {
    assert.throws(
      () => config({ exclude: ["10.60.0.0/33"] }),
      /ipam.exclude\[0\] "10.60.0.0\/33" is not an address or CIDR/,
    );
    assert.throws(() => config({}, "mysql:x"), /ipam.datastore "mysql:x" is not embedded/);
    assert.throws(() => config({ nodeName: "Node_1" }), /ipam.nodeName must be a node name/);
  });
  test("CNI GC frees only this node's allocations the runtime no longer lists", async () => {
    const s = new EmbeddedStore();
    const c = config();
    await allocateFromPool(s, c, owner("keep"), [], 1);
    await allocateFromPool(s, c, owner("gone"), [], 1);
    await allocateFromPool(s, c, owner("other-node", "n2"), [], 1);
    assert.deepEqual(await gcPool(s, c, "n1", [{ containerId: "keep", ifName: "net1" }]), ["10.60.0.11"]);
    assert.equal((await addresses(s)).length, 2);
    await s.close();
  });
});

/** A child process that allocates `count` addresses one after another, printing them as JSON. */
function allocatorProcess(endpoint: string, node: string, count: number): Promise<string[]> {
  const code = `
    const { connectEtcd } = await import(${JSON.stringify(new URL("../datastore/etcd/etcd-store.js", import.meta.url).href)});
    const { parseClusterIpamConfig } = await import(${JSON.stringify(new URL("./cluster-config.js", import.meta.url).href)});
    const { allocateFromPool } = await import(${JSON.stringify(new URL("./cluster-pool.js", import.meta.url).href)});
    const store = connectEtcd([${JSON.stringify(endpoint)}]);
    const config = parseClusterIpamConfig({ type: "strata-cluster-ipam", datastore: "etcd:${endpoint}",
      ranges: [[{ subnet: "10.60.0.0/24" }]], exclude: ["10.60.0.128/28"] });
    const got = [];
    for (let i = 0; i < ${count}; i++) {
      const a = await allocateFromPool(store, config, { node: "${node}", containerId: "${node}-c" + i,
        ifName: "net1", netns: "/run/netns/x", network: "n" }, [], Date.now());
      got.push(a.ips[0].address);
    }
    await store.close();
    console.log(JSON.stringify(got));`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", code], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`${node}: ${err}`)),
    );
  });
}

describe("cluster IPAM on one real etcd", () => {
  let etcd: EtcdProcess;
  let store: Datastore;
  before(async () => {
    etcd = await startEtcd();
    store = connectEtcd([etcd.endpoint]);
  });
  after(async () => {
    await store.close();
    await etcd.stop();
  });

  test("4 agents × 50 allocations at once: 200 addresses, no duplicate, none excluded", async () => {
    const results = await Promise.all(
      ["n1", "n2", "n3", "n4"].map((n) => allocatorProcess(etcd.endpoint, n, 50)),
    );
    const all = results.flat();
    assert.equal(all.length, 200);
    assert.equal(new Set(all).size, 200, "every address handed out once");
    const keys = await addresses(store);
    assert.equal(keys.length, 200, "one record per address in the store");
    for (const ip of all) {
      const last = Number(ip.split("/")[0]?.split(".")[3]);
      assert.ok(last < 128 || last > 143, `${ip} is excluded`);
    }
    for (const kv of (await store.list(poolsPrefix)).items) await store.delete(kv.key);
  });

  test("a crashed node's addresses are freed after its heartbeat is gone for the grace period", async () => {
    const c = config({}, `etcd:${etcd.endpoint}`);
    const n1 = new NodeHeartbeat(store, "n1", 30);
    const n2 = new NodeHeartbeat(store, "n2", 5);
    await n1.beat();
    await n2.beat();
    for (let i = 0; i < 5; i++) await allocateFromPool(store, c, owner(`n2-c${i}`, "n2"), [], Date.now());
    // n1's own pods: one whose netns still exists, one whose netns is gone.
    await allocateFromPool(store, c, { ...owner("alive", "n1"), netns: "/proc/self/ns/net" }, [], Date.now());
    await allocateFromPool(
      store,
      c,
      { ...owner("dead", "n1"), netns: "/run/netns/strata-t-never-there" },
      [],
      1,
    );
    const pass = async (now: number) =>
      collectStranded(store, {
        node: "n1",
        aliveNodes: await aliveNodes(store),
        netnsExists: async (p) => existsSync(p),
        now,
        graceMs: 60_000,
      });
    // n2 alive: only n1's pod without a netns goes.
    await n2.beat();
    let report = await pass(Date.now());
    assert.deepEqual(
      report.freed.map((f) => f.owner.containerId),
      ["dead"],
    );
    // n2 "crashes": it stops beating (no revoke); its heartbeat expires with its lease.
    await eventually(async () => !(await aliveNodes(store)).has("n2"), "n2's heartbeat to expire", {
      timeoutMs: 30_000,
    });
    const t0 = Date.now();
    report = await pass(t0);
    assert.deepEqual(report.freed, [], "within the grace period nothing of n2 is freed");
    assert.deepEqual(report.suspects, ["n2"]);
    report = await pass(t0 + 61_000);
    assert.equal(report.freed.length, 5);
    assert.ok(
      report.freed.every(
        (f) => f.owner.node === "n2" && /^node n2 has had no heartbeat for 6\d s$/.test(f.reason),
      ),
    );
    assert.equal((await addresses(store)).length, 1, "only n1's live pod keeps its address");
    await pass(t0 + 62_000);
    assert.deepEqual((await store.list(suspectsPrefix)).items, [], "n2's mark goes with its last address");
    await n1.stop();
  });
});
