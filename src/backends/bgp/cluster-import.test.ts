import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { numberedLease } from "../../../test/support/leases.js";
import type { PeerInfo } from "../../bgp/rib/path.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { clusterImportPolicy } from "./cluster-import.js";

const node = (i: number): NodeLease => numberedLease(i);
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

describe("IPv6 (dual stack): the same rules over subnet6 and publicIp6", () => {
  const dual = (i: number): NodeLease => ({
    ...node(i),
    subnet6: `fd00:10:244:${i}::/64`,
    publicIp6: `fd00:192:168:10::${10 + i}`,
  });
  const all = [1, 2, 3, 4].map(dual);
  const p6 = clusterImportPolicy(dual(1), all, {
    routeReflectors: ["n3"],
    externalWithList: new Set(["192.168.10.1"]),
  });
  const mp = (prefix: string, nextHop: string) => ({
    origin: "igp" as const,
    asPath: [],
    mpReach: { afi: 2, safi: 1, nextHops: [nextHop], nlri: [prefix] },
  });
  const v6 = (p: PeerInfo, prefix: string, nh: string) => p6(p, prefix, mp(prefix, nh));

  test("a node may announce exactly its subnet6, via its publicIp6 (any spelling of it)", () => {
    assert.equal(v6(n(2), "fd00:10:244:2::/64", "fd00:192:168:10::12"), undefined);
    assert.equal(v6(n(2), "fd00:10:244:2::/64", "FD00:192:168:10:0:0:0:12"), undefined);
  });

  test("the wrong next hop (another node's, its IPv4 address, a link-local one) is refused", () => {
    assert.match(
      v6(n(2), "fd00:10:244:2::/64", "fd00:192:168:10::13") ?? "",
      /next hop fd00:192:168:10::13 is not node n2's IPv6 address/,
    );
    assert.match(v6(n(2), "fd00:10:244:2::/64", "fe80::2") ?? "", /is not node n2's IPv6 address/);
  });

  test("more-specifics, covering prefixes, other nodes' subnet6 and our own are refused", () => {
    assert.match(v6(n(2), "fd00:10:244:2::/80", "fd00:192:168:10::12") ?? "", /overlaps node n2's IPv6/);
    assert.match(v6(n(2), "fd00:10:244::/48", "fd00:192:168:10::12") ?? "", /overlaps this node's own IPv6/);
    assert.match(v6(n(2), "fd00:10:244:1::/64", "fd00:192:168:10::12") ?? "", /own IPv6 pod subnet/);
    assert.match(
      v6(n(2), "fd00:10:244:4::/64", "fd00:192:168:10::14") ?? "",
      /node n4's IPv6 pod subnet, announced by node n2/,
    );
    assert.match(
      v6(n(2), "2001:db8::/32", "fd00:192:168:10::12") ?? "",
      /may announce only fd00:10:244:2::\/64/,
    );
    assert.match(v6(n(2), "::/0", "fd00:192:168:10::12") ?? "", /overlaps/);
  });

  test("a route reflector passes on another node's subnet6 with the owner's next hop, nothing else", () => {
    assert.equal(v6(n(3), "fd00:10:244:4::/64", "fd00:192:168:10::14"), undefined);
    assert.match(v6(n(3), "fd00:10:244:4::/64", "fd00:192:168:10::13") ?? "", /is not node n4's/);
  });

  test("an external peer: other nodes' exact subnet6, or with an import list other prefixes", () => {
    assert.equal(v6(tor, "fd00:10:244:2::/64", "fd00:192:168:10::1"), undefined);
    assert.equal(v6(tor, "2001:db8::/32", "fd00:192:168:10::1"), undefined);
    assert.match(v6(from("192.168.10.2"), "2001:db8::/32", "fd00::2") ?? "", /no import= list/);
  });

  test("without subnet6 leases (an IPv4-only cluster) every IPv6 prefix from a node is refused", () => {
    assert.match(
      policy(n(2), "fd00:10:244:2::/64", mp("fd00:10:244:2::/64", "fd00:192:168:10::12")) ?? "",
      /node n2 leases no IPv6 subnet/,
    );
  });

  test("a node whose lease has subnet6 may still announce its IPv4 subnet as before", () => {
    assert.equal(p6(n(2), "10.244.2.0/24", via("192.168.10.12")), undefined);
  });
});

describe("IPv6-only: the same rules over the leases' (IPv6) subnet and publicIp", () => {
  const only6 = (i: number): NodeLease => ({
    node: `n${i}`,
    subnet: `fd00:10:244:${i}::/64`,
    publicIp: `fd00:192:168:10::${10 + i}`,
    publicPrefix: 64,
    backend: "bgp",
    backendData: {},
  });
  const all = [1, 2, 3, 4].map(only6);
  const p = clusterImportPolicy(only6(1), all, { routeReflectors: ["n3"], externalWithList: new Set() });
  const mp = (prefix: string, nextHop: string) => ({
    origin: "igp" as const,
    asPath: [],
    mpReach: { afi: 2, safi: 1, nextHops: [nextHop], nlri: [prefix] },
  });
  const at = (i: number) => from(only6(i).publicIp);
  const v6 = (peer: PeerInfo, prefix: string, nh: string) => p(peer, prefix, mp(prefix, nh));

  test("a node announces exactly its subnet via its IPv6 address, over an IPv6 session", () => {
    assert.equal(v6(at(2), "fd00:10:244:2::/64", "fd00:192:168:10::12"), undefined);
    assert.match(
      v6(at(2), "fd00:10:244:2::/64", "fd00:192:168:10::13") ?? "",
      /is not node n2's IPv6 address/,
    );
    assert.match(v6(at(2), "fd00:10:244:2::/72", "fd00:192:168:10::12") ?? "", /overlaps node n2's IPv6/);
    assert.match(v6(at(2), "fd00:10:244:1::/64", "fd00:192:168:10::12") ?? "", /own IPv6 pod subnet/);
    assert.match(v6(at(2), "fd00:10:244:4::/64", "fd00:192:168:10::14") ?? "", /announced by node n2/);
    assert.equal(v6(at(3), "fd00:10:244:4::/64", "fd00:192:168:10::14"), undefined, "n3 reflects");
  });

  test("no node owns an IPv4 prefix: every one from a node is refused", () => {
    assert.match(p(at(2), "10.244.2.0/24", via("192.168.10.12")) ?? "", /node n2 leases no IPv4 subnet/);
  });
});
