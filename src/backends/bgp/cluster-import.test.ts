import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerInfo } from "../../bgp/rib/path.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { clusterImportPolicy } from "./cluster-import.js";

const node = (i: number): NodeLease => ({
  node: `n${i}`,
  subnet: `10.244.${i}.0/24`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  backend: "bgp",
  backendData: {},
});
const nodes = [1, 2, 3, 4].map(node);
const from = (address: string): PeerInfo => ({
  id: address,
  routerId: address,
  address,
  asn: 64512,
  ibgp: true,
  rrClient: false,
});
const n = (i: number) => from(node(i).publicIp);
const tor = from("192.168.10.1");
const via = (nextHop: string) => ({ origin: "igp" as const, asPath: [], nextHop });
const policy = clusterImportPolicy(node(1), nodes, {
  routeReflectors: ["n3"],
  externalWithList: new Set(["192.168.10.1"]),
});
const verdict = (p: PeerInfo, prefix: string, nh = p.address) => policy(p, prefix, via(nh));

test("a node may announce exactly the subnet it leases, with itself as next hop", () => {
  assert.equal(verdict(n(2), "10.244.2.0/24"), undefined);
  assert.match(verdict(n(2), "10.244.2.0/25") ?? "", /overlaps node n2's pod subnet 10\.244\.2\.0\/24/);
  assert.match(
    verdict(n(2), "10.244.2.0/24", "192.168.10.66") ?? "",
    /next hop 192\.168\.10\.66 is not node n2's/,
  );
  assert.match(verdict(n(2), "10.244.0.0/16") ?? "", /overlaps this node's own pod subnet/);
});

test("the forged routes of the report are refused from a node's address", () => {
  assert.match(verdict(n(2), "0.0.0.0/1") ?? "", /overlaps this node's own pod subnet/);
  assert.match(verdict(n(2), "10.244.3.0/25") ?? "", /overlaps node n3's pod subnet 10\.244\.3\.0\/24/);
  assert.match(
    verdict(n(2), "203.0.113.0/24") ?? "",
    /not a node's pod subnet \(node n2 may announce only 10\.244\.2\.0\/24\)/,
  );
  assert.match(
    verdict(n(2), "10.244.4.0/24", node(4).publicIp) ?? "",
    /node n4's pod subnet, announced by node n2/,
  );
  assert.match(
    verdict(n(2), "10.244.1.0/24") ?? "",
    /own pod subnet/,
    "nobody routes our own pods elsewhere",
  );
});

test("a route reflector passes on other nodes' exact subnets, next hop still the owner", () => {
  assert.equal(verdict(n(3), "10.244.4.0/24", node(4).publicIp), undefined);
  assert.match(verdict(n(3), "10.244.4.0/24", node(3).publicIp) ?? "", /not node n4's address/);
  assert.match(verdict(n(3), "10.244.4.0/25", node(4).publicIp) ?? "", /overlaps node n4's/);
});

test("an external peer: other nodes' exact subnets (a router passing them on), else only with a list", () => {
  assert.equal(verdict(tor, "10.244.2.0/24"), undefined, "the router's next-hop-self is fine");
  assert.equal(verdict(tor, "198.51.100.0/24"), undefined, "has a list (checked before this policy)");
  assert.match(verdict(tor, "10.244.2.128/25") ?? "", /overlaps node n2's/);
  assert.match(verdict(tor, "10.244.1.0/24") ?? "", /own pod subnet/);
  const other = from("192.168.10.2");
  assert.match(verdict(other, "198.51.100.0/24") ?? "", /no import= list/);
  assert.equal(verdict(other, "10.244.4.0/24"), undefined);
});

test("a node without a lease in the datastore is not a node: its own subnet claim is refused", () => {
  const p = clusterImportPolicy(node(1), [node(1), node(2)], {
    routeReflectors: [],
    externalWithList: new Set(),
  });
  assert.match(p(n(3), "10.244.3.0/24", via(node(3).publicIp)) ?? "", /no import= list/);
});
