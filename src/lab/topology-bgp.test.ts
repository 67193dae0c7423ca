import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePeerSpec } from "../bgp/speaker/peer-spec.js";
import { agentArgv, type LabAgentOptions } from "./agent-argv.js";
import {
  bgpAgentOptions,
  type LabNode,
  type LabSpec,
  labBgpHoldSeconds,
  routerSpeakerArgs,
} from "./topology.js";
import { labNodeMac } from "./underlay-macs.js";

const spec = (underlay: "l2" | "l3", routeReflectors = 0): LabSpec => ({
  model: "bgp",
  nodes: 2,
  podsPerNode: 1,
  underlay,
  datastore: "embedded",
  clusterCidr: "10.244.0.0/16",
  underlayMtu: 1500,
  routeReflectors,
});
const node = (i: number): LabNode => ({
  name: `n${i}`,
  ns: `strata-lab-n${i}`,
  ip: `192.168.10.${10 + i}`,
  prefix: 24,
  gateway: "192.168.10.1",
  segment: "a",
  mac: labNodeMac(i),
});
const values = (args: string[], flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
const agent = (s: LabSpec, key?: string): string[] =>
  agentArgv({
    node: "n1",
    backend: "bgp",
    clusterCidr: s.clusterCidr,
    datastore: { kind: "embedded", socket: "/run/strata-lab/datastore/kv.sock" },
    underlayDev: "eth0",
    stateDir: "/run/strata-lab/n1",
    heartbeatTtlSeconds: 10,
    cniBinDir: "/run/strata-lab/bin",
    bgp: bgpAgentOptions(s, node(1), key),
  } satisfies LabAgentOptions);

test("lab bgp model: with a key file every session is signed, and the router takes only pod routes", () => {
  const key = "/run/strata-lab/bgp-mesh.key";
  assert.deepEqual(values(agent(spec("l2"), key), "--bgp-password-file"), [key]);
  const l3 = agent(spec("l3"), key);
  assert.ok(l3.includes("--no-bgp-mesh"), "on l3 a node peers only with its router");
  const [tor] = values(l3, "--bgp-peer").map(parsePeerSpec);
  assert.equal(tor?.address, "192.168.10.1");
  assert.equal(tor?.passwordFile, key, "the node signs its session to the router");
  const router = values(routerSpeakerArgs([node(1), node(2)], "10.244.0.0/16", key), "--peer").map(
    parsePeerSpec,
  );
  assert.equal(router.length, 2);
  for (const p of router) {
    assert.equal(p.passwordFile, key);
    assert.deepEqual(p.importList, [{ prefix: "10.244.0.0/16", ge: 16, le: 32 }]);
  }
  assert.deepEqual(values(agent(spec("l2")), "--bgp-password-file"), [], "no key: unsigned");
});

test("lab bgp model on l2: a full mesh without reflectors, the first K nodes reflect with --route-reflectors K", () => {
  assert.deepEqual(values(agent(spec("l2")), "--bgp-route-reflectors"), []);
  assert.equal(agent(spec("l2")).includes("--no-bgp-mesh"), false);
  assert.deepEqual(values(agent(spec("l2", 1)), "--bgp-route-reflectors"), ["n1"]);
  assert.deepEqual(values(agent(spec("l2", 5)), "--bgp-route-reflectors"), ["n1,n2"], "at most every node");
});

test("lab bgp model on l3, dual stack: the router imports both cluster CIDRs and negotiates IPv6", () => {
  const args = routerSpeakerArgs([node(1), node(2)], "10.244.0.0/16,fd00:10:244::/56");
  assert.ok(args.includes("--ipv6"));
  for (const p of values(args, "--peer").map(parsePeerSpec))
    assert.deepEqual(p.importList, [
      { prefix: "10.244.0.0/16", ge: 16, le: 32 },
      { prefix: "fd00:10:244::/56", ge: 56, le: 128 },
    ]);
  assert.equal(routerSpeakerArgs([node(1)], "10.244.0.0/16").includes("--ipv6"), false);
  assert.ok(args.includes("--no-warm-up"), "the lab's router starts cold, as the agents do");
});

test("lab bgp model on l3, IPv6-only: each node peers with the router's IPv6 address on its segment, the router with each node's IPv6 address, importing only the IPv6 cluster CIDR", () => {
  const only6 = { ...spec("l3"), ipFamily: "ipv6" as const };
  const nodeB: LabNode = { ...node(2), ip: "192.168.20.12", gateway: "192.168.20.1", segment: "b" };
  const peerOf = (n: LabNode) => bgpAgentOptions(only6, n).peers.map((p) => p.address);
  assert.deepEqual(peerOf(node(1)), ["fd00:192:168:10::1"]);
  assert.deepEqual(peerOf(nodeB), ["fd00:192:168:20::1"]);
  assert.deepEqual(
    bgpAgentOptions(spec("l3"), nodeB).peers.map((p) => p.address),
    ["192.168.20.1"],
  );
  const args = routerSpeakerArgs([node(1), nodeB], "fd00:10:244::/56");
  assert.ok(args.includes("--ipv6"), "IPv6 unicast negotiated");
  const peers = values(args, "--peer").map(parsePeerSpec);
  assert.deepEqual(
    peers.map((p) => p.address),
    ["fd00:192:168:10::11", "fd00:192:168:20::12"],
  );
  for (const p of peers) {
    assert.deepEqual(p.importList, [{ prefix: "fd00:10:244::/56", ge: 56, le: 128 }]);
    assert.equal(p.nextHopSelf, true, "routes go on with the router's own address on the segment");
  }
});

test("past 25 nodes the lab's agents hold BGP sessions 240 s (BIRD's default, Calico's), up to 25 the agent's 9 s", () => {
  const big = { ...spec("l2"), nodes: 100 };
  const small = { ...spec("l2"), nodes: 25 };
  assert.deepEqual(values(agent(big), "--bgp-hold"), ["240"]);
  assert.deepEqual(values(agent(small), "--bgp-hold"), []);
  assert.equal(labBgpHoldSeconds(26), 240);
  assert.equal(labBgpHoldSeconds(25), undefined);
});
