import type { NodeLease } from "../../src/cluster/node-lease.js";
import type { NodeFacts } from "../../src/doctor/facts.js";

/**
 * Facts recorded from a healthy 3-node vxlan lab (node n1), for the checks' unit tests: each test
 * changes one fact and asserts the verdict.
 */
export const now = Date.parse("2026-11-30T12:00:00Z");

export const lease = (node: string, i: number, backend = "vxlan"): NodeLease => ({
  node,
  subnet: `10.244.${i}.0/24`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  backend,
  backendData: { vtepMac: `02:00:00:00:00:0${i}`, vni: "1", bgpAsn: "64512" },
});

export function healthyVxlan(): NodeFacts {
  const leases = [lease("n1", 1), lease("n2", 2), lease("n3", 3)];
  return {
    node: "n1",
    nowMs: now,
    underlayDev: "eth0",
    agent: {
      port: 9947,
      httpStatus: 200,
      health: {
        ok: true,
        problems: [],
        node: "n1",
        model: "vxlan",
        subnet: "10.244.1.0/24",
        podMtu: 1450,
        resyncSeconds: 10,
        lastReconcile: { ok: true, at: "2026-11-30T11:59:55Z" },
        lease: { ttlSeconds: 86400, renewedAt: "2026-11-30T11:00:00Z" },
      },
    },
    kernel: {
      release: "6.1.0-18-amd64",
      links: [
        { index: 1, name: "lo", mtu: 65536, up: true, operState: "UNKNOWN" },
        { index: 2, name: "eth0", kind: "veth", mtu: 1500, up: true, operState: "UP" },
        {
          index: 3,
          name: "strata.1",
          kind: "vxlan",
          mtu: 1450,
          up: true,
          operState: "UNKNOWN",
          vxlan: { vni: 1, port: 8472, local: "192.168.10.11", learning: false },
        },
        { index: 4, name: "cni0", kind: "bridge", mtu: 1450, up: true, operState: "UP" },
        {
          index: 5,
          name: "veth0123456789a",
          kind: "veth",
          mtu: 1450,
          up: true,
          operState: "UP",
          master: "cni0",
        },
      ],
      addresses: [
        { dev: "eth0", family: 4, cidr: "192.168.10.11/24", scope: "global" },
        { dev: "strata.1", family: 4, cidr: "10.244.1.0/32", scope: "global" },
      ],
      routes: [
        { dst: "default", via: "192.168.10.1", dev: "eth0" },
        { dst: "10.244.2.0/24", via: "10.244.2.0", dev: "strata.1", onlink: true, proto: "147" },
        { dst: "10.244.3.0/24", via: "10.244.3.0", dev: "strata.1", onlink: true, proto: "147" },
      ],
      neighbours: [
        { dev: "strata.1", ip: "10.244.2.0", mac: "02:00:00:00:00:02", state: "PERMANENT" },
        { dev: "strata.1", ip: "10.244.3.0", mac: "02:00:00:00:00:03", state: "PERMANENT" },
      ],
      fdb: [
        { dev: "strata.1", mac: "02:00:00:00:00:02", dst: "192.168.10.12", self: true, permanent: true },
        { dev: "strata.1", mac: "02:00:00:00:00:03", dst: "192.168.10.13", self: true, permanent: true },
      ],
      rpFilter: { all: 0, eth0: 0, "strata.1": 0 },
      lookups: [
        { dst: "192.168.10.12", dev: "eth0" },
        { dst: "10.244.2.1", dev: "strata.1", via: "10.244.2.0" },
        { dst: "192.168.10.13", dev: "eth0" },
        { dst: "10.244.3.1", dev: "strata.1", via: "10.244.3.0" },
      ],
      offload: { "strata.1": { "tx-checksumming": true, "tx-checksum-ip-generic": true } },
    },
    stateDir: {
      dir: "/run/strata-lab/n1",
      subnet: { subnet: "10.244.1.0/24", mtu: 1450, clusterCidr: "10.244.0.0/16" },
      conflistMtu: 1450,
      reservations: [
        { ip: "10.244.1.2", containerId: "lab-n1-p1", ifName: "eth0", hostVeth: "veth0123456789a" },
      ],
      errors: [],
    },
    cluster: { leases, rejected: [] },
    sourceGuard: {
      before: { ipv4: 3, ipv6: 0, arp: 0, other: 0 },
      after: { ipv4: 3, ipv6: 0, arp: 0, other: 0 },
      seconds: 4,
    },
    probes: [
      { kind: "underlay", peer: "n2", to: "192.168.10.12", size: 1500, ok: true },
      { kind: "overlay", peer: "n2", to: "10.244.2.0", size: 1450, ok: true },
      { kind: "underlay", peer: "n3", to: "192.168.10.13", size: 1500, ok: true },
      { kind: "overlay", peer: "n3", to: "10.244.3.0", size: 1450, ok: true },
    ],
  };
}
