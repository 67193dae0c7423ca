import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { labSpec } from "../../test/support/lab-spec.js";
import { type LabFlags, parseLabFlags } from "../cli/lab-flags.js";
import { nadConfList, parseNad } from "../netattach/nad.js";
import { planChecks } from "./check.js";
import { multiConfList, planSecondaryNetworks, secondaryNad } from "./secondary-networks.js";
import type { LabState } from "./state.js";

const flags: LabFlags = {
  model: "vxlan",
  nodes: "2",
  pods: "2",
  underlay: "l2",
  datastore: "embedded",
  routeReflectors: "0",
  attachPlugin: "macvlan",
};
const etcdArgs = [
  "--datastore",
  "etcd:https://192.168.10.1:2379",
  "--etcd-ca",
  "/ca.pem",
  "--etcd-cert",
  "/c.pem",
  "--etcd-key",
  "/k.pem",
];

describe("lab --attach", () => {
  test("--attach names the networks; the delegate type is --attach-plugin", () => {
    const spec = parseLabFlags({ ...flags, attach: "macvlan,data", attachPlugin: "strata-macvlan" });
    assert.deepEqual(spec.attach, ["macvlan", "data"]);
    assert.equal(spec.attachPlugin, "strata-macvlan");
    assert.equal(parseLabFlags(flags).attach, undefined, "no --attach: the lab is unchanged");
  });
  for (const [f, message] of [
    [{ attach: "Mac_vlan" }, /: --attach: "Mac_vlan" is not a network name/],
    [{ attach: "a,a" }, /: --attach: names a network twice$/],
    [{ attach: "a", underlay: "l3" }, /: --attach: .* use --underlay l2$/],
    [{ attach: "a", attachPlugin: "../x" }, /: --attach-plugin: "..\/x" is not a CNI plugin type$/],
  ] as const)
    test(`refused: ${JSON.stringify(f)}`, () =>
      assert.throws(() => parseLabFlags({ ...flags, ...f }), message));

  test("one subnet and interface per network; the definition is valid and reaches the lab's etcd", () => {
    const nets = planSecondaryNetworks(["macvlan", "data"]);
    assert.deepEqual(nets, [
      { name: "macvlan", subnet: "10.100.0.0/24", ifName: "net1" },
      { name: "data", subnet: "10.101.0.0/24", ifName: "net2" },
    ]);
    const list = nadConfList(parseNad(secondaryNad(nets[1] as (typeof nets)[1], "macvlan", etcdArgs)));
    assert.deepEqual(list.plugins[0], {
      type: "macvlan",
      master: "eth0",
      mode: "bridge",
      ipam: {
        type: "strata-cluster-ipam",
        datastore: "etcd:https://192.168.10.1:2379",
        etcdCa: "/ca.pem",
        etcdCert: "/c.pem",
        etcdKey: "/k.pem",
        ranges: [[{ subnet: "10.101.0.0/24" }]],
      },
    });
    const multi = multiConfList("n1", "1.1.0", etcdArgs).plugins[0];
    assert.equal(multi?.type, "strata-multi");
    assert.equal(multi?.clusterNetwork, "/run/strata-lab/n1/10-strata.conflist");
    assert.equal(multi?.nodeName, "n1");
  });

  test("lab check pings each secondary network on a node and across nodes", () => {
    const pod = (name: string, node: string, n: number) => ({
      name,
      ns: `ns-${name}`,
      node,
      ip: `10.244.${n}.2`,
      secondary: [{ network: "macvlan", ifName: "net1", ip: `10.100.0.${n}` }],
    });
    const state = {
      spec: labSpec({ nodes: 2, attach: ["macvlan"] }),
      complete: true,
      nodes: [
        { name: "n1", ns: "n1", ip: "192.168.10.11", subnet: "", podMtu: 1450, pid: 0 },
        { name: "n2", ns: "n2", ip: "192.168.10.12", subnet: "", podMtu: 1450, pid: 0 },
      ],
      pods: [pod("a", "n1", 1), pod("b", "n1", 2), pod("c", "n2", 3)],
      processes: [],
      agentDatastoreArgs: [],
    } satisfies LabState;
    const secondary = planChecks(state).filter((p) => p.kind === "secondary network");
    assert.deepEqual(
      secondary.map((p) => `${p.from}→${p.to}`),
      ["a→10.100.0.2", "a→10.100.0.3", "c→10.100.0.1"],
    );
  });
});
