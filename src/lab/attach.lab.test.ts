import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { type ConfList, delNetworkList } from "../cni/runtime-client.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { runChecks } from "./check.js";
import { labNetworkStatus } from "./network-status.js";
import { labDown, labUp } from "./runner.js";
import { labPodNamespace, multiConfListPath } from "./secondary-networks.js";
import { labDir } from "./state.js";

const kernel = createIproute2Kernel();
const paths = labPaths();

describe("lab up --attach: secondary networks through strata-multi", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("macvlan over the l2 underlay with etcd: pods reach each other on every secondary network, on a node and across nodes; DEL frees the cluster pool", async () => {
    const spec = labSpec({
      nodes: 2,
      datastore: "etcd",
      attach: ["macvlan", "data"],
      attachPlugin: "strata-macvlan",
    });
    const state = await labUp(kernel, spec, paths, quietProgress);
    const results = await runChecks(kernel, state);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    // Per node: its first pod to its second pod and to the other node's first pod, on both networks.
    assert.equal(results.filter((r) => r.kind === "secondary network").length, 8);
    const addresses = state.pods.flatMap((p) => (p.secondary ?? []).map((s) => s.ip));
    assert.equal(addresses.length, 8);
    assert.equal(new Set(addresses).size, 8, "one cluster pool: no address twice across nodes");
    const status = await labNetworkStatus(kernel, state, paths);
    for (const p of state.pods) {
      assert.deepEqual(
        status[p.name]?.map((s) => [s.interface, s.name, s.default]),
        [
          ["eth0", "strata", true],
          ["net1", "default/macvlan", false],
          ["net2", "default/data", false],
        ],
        p.name,
      );
      assert.deepEqual(status[p.name]?.[1]?.ips, [p.secondary?.[0]?.ip]);
    }
    // DEL of one pod, as the runtime would: its secondary interfaces and pool addresses go.
    const pod = state.pods[0];
    assert.ok(pod);
    const node = state.nodes.find((n) => n.name === pod.node);
    const list = JSON.parse(readFileSync(multiConfListPath(pod.node), "utf8")) as ConfList;
    await delNetworkList(
      list,
      {
        containerId: `lab-${pod.name}`,
        netns: `/run/netns/${pod.ns}`,
        ifName: "eth0",
        args: { K8S_POD_NAMESPACE: labPodNamespace, K8S_POD_NAME: pod.name },
      },
      { cniPath: [`${labDir}/bin`, "/usr/lib/cni"], execPrefix: ["ip", "netns", "exec", node?.ns ?? ""] },
    );
    const links = (await kernel.links(namedNetns(pod.ns))).map((l) => l.name).filter((n) => n !== "lo");
    assert.deepEqual(links, []);
    const after = await labNetworkStatus(kernel, state, paths);
    assert.equal(after[pod.name], undefined, "its network-status is gone");
    const pool = await kernel.exec(namedNetns(node?.ns ?? ""), [
      paths.nodePath,
      paths.cliScript,
      ...["cluster-ipam", "list"],
      ...state.agentDatastoreArgs,
    ]);
    assert.equal(pool.code, 0, pool.stderr);
    assert.equal(pool.stdout.trim().split("\n").length, 6, "the other 3 pods keep 2 addresses each");
    assert.ok(!pool.stdout.includes(`default/${pod.name}\t`));
    await labDown(kernel);
  });
});
