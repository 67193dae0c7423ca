import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import {
  addNetworkList,
  type ConfList,
  checkNetworkList,
  delNetworkList,
  gcNetworkList,
  PluginFailed,
} from "../../cni/runtime-client.js";
import { EmbeddedStore } from "../../datastore/embedded/embedded-store.js";
import { type DatastoreServer, serveDatastore } from "../../datastore/embedded/server.js";
import { poolsPrefix } from "../../ipam/cluster-pool.js";
import { networkStatusAnnotation, networksAnnotation } from "../../netattach/annotation.js";
import { parseNad } from "../../netattach/nad.js";
import { NadStore } from "../../netattach/nad-store.js";
import { PodAnnotationStore } from "../../netattach/pod-annotations.js";

/**
 * The meta plugin as a runtime runs it: the installed `strata-multi` executable inside a node
 * namespace, its delegates Debian's reference plugins (bridge, macvlan, host-local) from CNI_PATH
 * and Strata's cluster IPAM linked in, NetworkAttachmentDefinitions and pod annotations in an
 * embedded datastore served on a socket.
 */
describe("strata-multi: Multus semantics over reference delegates", () => {
  const ns = new TestNamespaces("multi");
  const sandbox = new CniSandbox();
  const dir = mkdtempSync(join(tmpdir(), "strata-multi-"));
  const socket = join(dir, "kv", "kv.sock");
  const cacheDir = join(dir, "cache");
  const store = new EmbeddedStore();
  let server: DatastoreServer;
  let node: string;
  const datastore = `embedded:${socket}`;

  const nad = (name: string, config: Record<string, unknown>) =>
    new NadStore(store).apply(
      parseNad({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name, namespace: "team-a" },
        spec: { config: JSON.stringify({ cniVersion: "1.0.0", ...config }) },
      }),
    );
  const hostLocal = (subnet: string) => ({ type: "host-local", subnet, dataDir: sandbox.data });
  const multiList = (): ConfList => ({
    cniVersion: "1.0.0",
    name: "multi",
    plugins: [
      {
        type: "strata-multi",
        datastore,
        cacheDir,
        nodeName: "node-a",
        clusterNetwork: {
          cniVersion: "1.0.0",
          name: "cluster",
          plugins: [{ type: "bridge", bridge: "cni-c", isGateway: true, ipam: hostLocal("10.88.0.0/24") }],
        },
      },
    ],
  });
  const pod = (name: string) => ({
    netnsName: ns.create(name),
    containerId: `ctr-${name}`,
    args: { K8S_POD_NAMESPACE: "team-a", K8S_POD_NAME: name },
  });
  const att = (p: ReturnType<typeof pod>) => ({
    containerId: p.containerId,
    netns: ns.path(p.netnsName),
    ifName: "eth0",
    args: p.args,
  });
  const annotate = (name: string, value: string) =>
    new PodAnnotationStore(store).set({ namespace: "team-a", name }, networksAnnotation, value);
  const status = async (name: string) => {
    const v = await new PodAnnotationStore(store).get({ namespace: "team-a", name }, networkStatusAnnotation);
    return v === undefined ? undefined : (JSON.parse(v) as Record<string, unknown>[]);
  };
  const podLinks = (netnsName: string) =>
    ipJson<{ ifname: string; address: string }[]>(netnsName, ["link", "show"])
      .map((l) => l.ifname)
      .filter((n) => n !== "lo")
      .sort();
  const poolKeys = async () => (await store.list(poolsPrefix)).items.map((kv) => kv.key);
  const cacheFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

  before(async () => {
    await sandbox.install();
    server = await serveDatastore(store, socket);
    node = ns.create("node");
    // The secondary networks' parent: one end of a veth pair in the node, up.
    execFileSync("ip", ["-n", node, "link", "add", "m0", "type", "veth", "peer", "name", "m0p"]);
    execFileSync("ip", ["-n", node, "link", "set", "m0", "up"]);
    execFileSync("ip", ["-n", node, "link", "set", "m0p", "up"]);
    await nad("macvlan-a", {
      type: "macvlan",
      master: "m0",
      mode: "bridge",
      capabilities: { ips: true, mac: true },
      ipam: hostLocal("10.50.0.0/24"),
    });
    await nad("bridge-b", { type: "bridge", bridge: "br-b", ipam: hostLocal("10.51.0.0/24") });
    await nad("macvlan-c", {
      type: "macvlan",
      master: "m0",
      mode: "bridge",
      ipam: {
        type: "strata-cluster-ipam",
        datastore,
        ranges: [[{ subnet: "10.60.0.0/24" }]],
        exclude: ["10.60.0.0/28"],
      },
    });
    // A list whose second plugin is missing: its bridge is attached (link, address) before it fails.
    await new NadStore(store).apply(
      parseNad({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "broken", namespace: "team-a" },
        spec: {
          config: JSON.stringify({
            cniVersion: "1.0.0",
            name: "broken",
            plugins: [
              { type: "bridge", bridge: "br-x", ipam: hostLocal("10.52.0.0/24") },
              { type: "no-such-plugin" },
            ],
          }),
        },
      }),
    );
  });
  after(async () => {
    ns.cleanup();
    await server.close();
    await store.close();
    sandbox.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ADD: eth0 from the cluster network, then each annotated network in order; network-status as Multus writes it", async () => {
    const p1 = pod("p1");
    const p2 = pod("p2");
    await annotate(
      "p1",
      JSON.stringify([
        { name: "macvlan-a", ips: ["10.50.0.77/24"], mac: "02:00:00:00:aa:01" },
        { name: "bridge-b", interface: "data0" },
        { name: "macvlan-c" },
      ]),
    );
    await annotate("p2", "macvlan-a, team-a/macvlan-c@sec1");
    const rt = sandbox.runtime(node);
    const r1 = (await addNetworkList(multiList(), att(p1), rt)) as {
      ips: { address: string }[];
      interfaces: { name: string }[];
    };
    await addNetworkList(multiList(), att(p2), rt);
    // The runtime gets the cluster network's result.
    assert.match(r1.ips[0]?.address ?? "", /^10\.88\.0\.\d+\/24$/);
    assert.ok(r1.interfaces.some((i) => i.name === "eth0"));
    assert.deepEqual(podLinks(p1.netnsName), ["data0", "eth0", "net1", "net3"]);
    assert.deepEqual(podLinks(p2.netnsName), ["eth0", "net1", "sec1"]);
    const net1 = ipJson<{ address: string; addr_info: { local: string }[] }[]>(p1.netnsName, [
      "addr",
      "show",
      "net1",
    ])[0];
    assert.equal(net1?.address, "02:00:00:00:aa:01", "mac from the annotation");
    assert.equal(net1?.addr_info[0]?.local, "10.50.0.77", "ips from the annotation");
    const s1 = await status("p1");
    assert.deepEqual(
      s1?.map((s) => [s.name, s.interface, s.default]),
      [
        ["cluster", "eth0", true],
        ["team-a/macvlan-a", "net1", false],
        ["team-a/bridge-b", "data0", false],
        ["team-a/macvlan-c", "net3", false],
      ],
    );
    assert.deepEqual(s1?.[1]?.ips, ["10.50.0.77"]);
    assert.equal(s1?.[1]?.mac, "02:00:00:00:aa:01");
    assert.deepEqual(s1?.[3]?.ips, ["10.60.0.16"], "cluster IPAM: lowest free after the exclusion");
    assert.deepEqual(s1?.[0]?.dns, {});
    // Pod to pod over the macvlan network (bridge mode, one parent) and the cluster-IPAM one.
    const p2net1 = (await status("p2"))?.[1]?.ips as string[];
    assert.ok(canPing(p1.netnsName, p2net1[0] as string), "p1 net1 → p2 net1");
    assert.ok(canPing(p2.netnsName, "10.60.0.16"), "p2 sec1 → p1 net3");
    assert.equal((await poolKeys()).length, 2);

    // DEL: in reverse, from the cache; nothing is left.
    await delNetworkList(multiList(), att(p1), rt);
    await delNetworkList(multiList(), att(p2), rt);
    assert.deepEqual(podLinks(p1.netnsName), []);
    assert.deepEqual(podLinks(p2.netnsName), []);
    for (const n of ["cluster", "macvlan-a", "bridge-b"]) assert.deepEqual(sandbox.reservations(n), [], n);
    assert.deepEqual(await poolKeys(), []);
    assert.equal(await status("p1"), undefined, "network-status removed");
    assert.deepEqual(cacheFiles(), []);
    // DEL again succeeds (idempotent).
    await delNetworkList(multiList(), att(p1), rt);
  });

  test("a failing delegate rolls back every earlier attachment: no link, no address, no IPAM reservation left", async () => {
    const p = pod("rb");
    await annotate("rb", "macvlan-a,macvlan-c,broken");
    await assert.rejects(addNetworkList(multiList(), att(p), sandbox.runtime(node)), (err: unknown) => {
      assert.ok(err instanceof PluginFailed);
      assert.equal(err.cniCode, 7);
      assert.match(
        err.message,
        /network team-a\/broken \(net3\): plugin "no-such-plugin" was not found on CNI_PATH/,
      );
      return true;
    });
    assert.deepEqual(podLinks(p.netnsName), []);
    for (const n of ["cluster", "macvlan-a", "broken"]) assert.deepEqual(sandbox.reservations(n), [], n);
    assert.deepEqual(await poolKeys(), [], "the cluster IPAM freed what it gave");
    assert.equal(await status("rb"), undefined);
    assert.deepEqual(cacheFiles(), []);
  });

  test("a missing definition or a bad annotation is code 7 before anything is attached", async () => {
    const p = pod("bad");
    for (const [value, message] of [
      ["macvlan-a,nope", /NetworkAttachmentDefinition team-a\/nope does not exist/],
      ["macvlan-a@eth0", /"eth0" is the cluster network's interface/],
      [
        '[{"name":"bridge-b","mac":"02:00:00:00:00:09"}]',
        /no plugin of its configuration declares the "mac" capability/,
      ],
    ] as const) {
      await annotate("bad", value);
      await assert.rejects(addNetworkList(multiList(), att(p), sandbox.runtime(node)), (err: unknown) => {
        assert.ok(err instanceof PluginFailed);
        assert.equal(err.cniCode, 7);
        assert.match(err.message, message);
        return true;
      });
      assert.deepEqual(podLinks(p.netnsName), []);
      assert.deepEqual(sandbox.reservations("cluster"), []);
    }
  });

  test("default-route moves the pod's default route onto the secondary network", async () => {
    const p = pod("gw");
    await annotate("gw", JSON.stringify([{ name: "macvlan-a", "default-route": ["10.50.0.1"] }]));
    await addNetworkList(multiList(), att(p), sandbox.runtime(node));
    const routes = ipJson<{ dst: string; gateway?: string; dev: string }[]>(p.netnsName, ["route", "show"]);
    const defaults = routes.filter((r) => r.dst === "default");
    assert.deepEqual(
      defaults.map((r) => [r.gateway, r.dev]),
      [["10.50.0.1", "net1"]],
    );
    const s = await status("gw");
    assert.deepEqual(
      s?.map((x) => x.default),
      [false, true],
    );
    await delNetworkList(multiList(), att(p), sandbox.runtime(node));
    assert.deepEqual(podLinks(p.netnsName), []);
  });

  test("CHECK passes on every attachment, and fails when a secondary interface is gone", async () => {
    const p = pod("chk");
    await annotate("chk", "macvlan-a");
    const rt = sandbox.runtime(node);
    const result = await addNetworkList(multiList(), att(p), rt);
    await checkNetworkList(multiList(), att(p), rt, result);
    execFileSync("ip", ["-n", p.netnsName, "link", "del", "net1"]);
    await assert.rejects(
      checkNetworkList(multiList(), att(p), rt, result),
      /network team-a\/macvlan-a \(net1\)/,
    );
    await delNetworkList(multiList(), att(p), rt);
    assert.deepEqual(sandbox.reservations("macvlan-a"), []);
  });

  test("DEL without the node's cache undoes what the annotation asks for", async () => {
    const p = pod("nocache");
    await annotate("nocache", "macvlan-a,bridge-b");
    const rt = sandbox.runtime(node);
    await addNetworkList(multiList(), att(p), rt);
    rmSync(cacheDir, { recursive: true, force: true });
    await delNetworkList(multiList(), att(p), rt);
    assert.deepEqual(podLinks(p.netnsName), []);
    for (const n of ["cluster", "macvlan-a", "bridge-b"]) assert.deepEqual(sandbox.reservations(n), [], n);
  });

  test("GC DELs what ADD attached (from the cache) for containers the runtime no longer lists", async () => {
    const keep = pod("gc-keep");
    const gone = pod("gc-gone");
    await annotate("gc-keep", "macvlan-a");
    await annotate("gc-gone", "macvlan-a");
    const rt = sandbox.runtime(node);
    await addNetworkList(multiList(), att(keep), rt);
    await addNetworkList(multiList(), att(gone), rt);
    assert.equal(sandbox.reservations("macvlan-a").length, 2);
    await gcNetworkList(
      { ...multiList(), cniVersion: "1.1.0" },
      [{ containerID: keep.containerId, ifname: "eth0" }],
      rt,
    );
    assert.deepEqual(podLinks(gone.netnsName), [], "every interface of the forgotten container is gone");
    assert.deepEqual(podLinks(keep.netnsName), ["eth0", "net1"]);
    assert.equal(sandbox.reservations("macvlan-a").length, 1);
    assert.equal(sandbox.reservations("cluster").length, 1);
    await delNetworkList(multiList(), att(keep), rt);
    await delNetworkList(multiList(), att(gone), rt);
    assert.deepEqual(sandbox.reservations("cluster"), []);
  });

  test("a pod without K8S_POD_* args gets the cluster network only", async () => {
    const p = pod("plain");
    const a = { ...att(p), args: {} };
    await addNetworkList(multiList(), a, sandbox.runtime(node));
    assert.deepEqual(podLinks(p.netnsName), ["eth0"]);
    await delNetworkList(multiList(), a, sandbox.runtime(node));
    assert.deepEqual(podLinks(p.netnsName), []);
  });
});
