import assert from "node:assert/strict";
import { test } from "node:test";
import { healthyVxlan } from "../../test/support/doctor-facts.js";
import { parseClusterCidrs } from "../cluster/cluster-cidrs.js";
import type { NodeLease } from "../cluster/node-lease.js";
import { checkBgp } from "./checks/bgp.js";
import { firstHost } from "./checks/model.js";
import { checkRoutes } from "./checks/paths.js";
import { checkRpFilter } from "./checks/rp-filter.js";
import { nodeRouteFamilies } from "./doctor-node.js";
import type { NodeFacts } from "./facts.js";
import { icmpHeaders, minimumSize } from "./probes.js";

/** An IPv6-only cluster's lease as the datastore layer hands it over: subnet and publicIp are IPv6. */
const lease6 = (i: number): NodeLease => ({
  node: `n${i}`,
  subnet: `fd00:10:244:${i}::/64`,
  publicIp: `fd00:192:168:10::${10 + i}`,
  publicPrefix: 64,
  backend: "bgp",
  backendData: { bgpAsn: "64512" },
});

/** n1 of a healthy IPv6-only bgp lab: its IPv6 underlay address, BGP routes to n2's and n3's /64s. */
function healthyIpv6Only(): NodeFacts {
  const f = healthyVxlan();
  return {
    ...f,
    agent: {
      ...f.agent,
      health: {
        ...f.agent.health,
        model: "bgp",
        subnet: "fd00:10:244:1::/64",
        backend: {
          bgpAsn: 64512,
          bgpLocalAddress: "fd00:192:168:10::11",
          bgpSessions: [2, 3].map((i) => ({
            peer: `fd00:192:168:10::${10 + i}`,
            state: "Established",
            asn: 64512,
            prefixes: 1,
            rejected: 0,
            rejectedTotal: 0,
            md5: false,
          })) as never,
        },
      },
    },
    cluster: { leases: [lease6(1), lease6(2), lease6(3)], rejected: [] },
    kernel: {
      ...f.kernel,
      links: f.kernel.links.filter((l) => l.kind !== "vxlan"),
      addresses: [
        { dev: "eth0", family: 4, cidr: "192.168.10.11/24" },
        { dev: "eth0", family: 6, cidr: "fd00:192:168:10::11/64" },
      ] as never,
      routes: [2, 3].map((i) => ({
        dst: `fd00:10:244:${i}::/64`,
        via: `fd00:192:168:10::${10 + i}`,
        dev: "eth0",
        proto: "147",
      })),
      rpFilter: { all: 1, eth0: 1 },
      lookups: [],
    },
    probes: [],
  };
}

test("DF probes size IPv6 pings with IPv6's 40-byte header (a 1500 B packet is 1452 B of payload) and search down to IPv6's 1280 B minimum", () => {
  assert.equal(icmpHeaders("fd00:192:168:10::12"), 48);
  assert.equal(icmpHeaders("192.168.10.12"), 28);
  assert.equal(minimumSize("fd00:192:168:10::12"), 1280);
  assert.equal(minimumSize("192.168.10.12"), 68);
});

test("an IPv6-only node's routes are read in IPv6 alone, a dual-stack node's in both families", () => {
  assert.deepEqual(nodeRouteFamilies(parseClusterCidrs("fd00:10:244::/56")), [6]);
  assert.deepEqual(nodeRouteFamilies(parseClusterCidrs("10.244.0.0/16,fd00:10:244::/56")), [4, 6]);
  assert.deepEqual(nodeRouteFamilies(parseClusterCidrs("10.244.0.0/16")), [4]);
});

test("the first host of an IPv6 pod subnet is <prefix>::1 (it was NaN.NaN…)", () => {
  assert.equal(firstHost("fd00:10:244:3::/64"), "fd00:10:244:3::1");
  assert.equal(firstHost("10.244.3.0/24"), "10.244.3.1");
});

test("a healthy IPv6-only bgp node: routes to every peer's IPv6 subnet, sessions and its IPv6 local address ok", () => {
  const f = healthyIpv6Only();
  assert.deepEqual(
    checkRoutes(f).map((v) => [v.ok, v.text]),
    [[true, "routes to 2 peer subnets present"]],
  );
  assert.deepEqual(
    checkBgp(f).map((v) => [v.ok, v.text]),
    [[true, "2 BGP sessions Established"]],
  );
  // IPv4's rp_filter does not see IPv6 pod traffic: strict mode with no route back is no problem.
  assert.ok(checkRpFilter(f).every((v) => v.ok));
});

test("an IPv6-only node missing a peer's IPv6 route, or its IPv6 local address, is named", () => {
  const f = healthyIpv6Only();
  const gone = checkRoutes({
    ...f,
    kernel: { ...f.kernel, routes: f.kernel.routes.filter((r) => r.dst !== "fd00:10:244:2::/64") },
  }).filter((v) => !v.ok);
  assert.equal(gone.length, 1);
  assert.match(gone[0]?.text ?? "", /no route to n2 \(fd00:192:168:10::12\)'s pods fd00:10:244:2::\/64/);
  const noAddress = checkBgp({
    ...f,
    kernel: { ...f.kernel, addresses: f.kernel.addresses.filter((a) => a.family === 4) },
  }).filter((v) => !v.ok);
  assert.equal(noAddress[0]?.reason, "bgp-local-address-missing");
});
