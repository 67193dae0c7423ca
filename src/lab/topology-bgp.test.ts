import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePeerSpec } from "../bgp/speaker/peer-spec.js";
import { bgpAgentArgs, type LabNode, type LabSpec, routerSpeakerArgs } from "./topology.js";

const spec = (underlay: "l2" | "l3"): LabSpec => ({
  model: "bgp",
  nodes: 2,
  podsPerNode: 1,
  underlay,
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
});
const node = (i: number): LabNode => ({
  name: `n${i}`,
  ns: `strata-lab-n${i}`,
  ip: `192.168.10.${10 + i}`,
  prefix: 24,
  gateway: "192.168.10.1",
  segment: "a",
});
const values = (args: string[], flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));

test("lab bgp model: with a key file every session is signed, and the router takes only pod routes", () => {
  const key = "/run/strata-lab/bgp-mesh.key";
  assert.deepEqual(values(bgpAgentArgs(spec("l2"), node(1), key), "--bgp-password-file"), [key]);
  const l3 = bgpAgentArgs(spec("l3"), node(1), key);
  const [tor] = values(l3, "--bgp-peer").map(parsePeerSpec);
  assert.equal(tor?.passwordFile, key, "the node signs its session to the router");
  const router = values(routerSpeakerArgs([node(1), node(2)], "10.244.0.0/16", key), "--peer").map(
    parsePeerSpec,
  );
  assert.equal(router.length, 2);
  for (const p of router) {
    assert.equal(p.passwordFile, key);
    assert.deepEqual(p.importList, [{ prefix: "10.244.0.0/16", ge: 16, le: 32 }]);
  }
  assert.deepEqual(values(bgpAgentArgs(spec("l2"), node(1)), "--bgp-password-file"), [], "no key: unsigned");
});
