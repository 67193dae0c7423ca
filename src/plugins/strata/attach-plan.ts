import type { CniIpConfig, CniRoute } from "../../cni/result.js";
import type { KernelOp, Netns } from "../../kernel/api.js";
import { routedGatewayV4, routedGatewayV6, routedHostMac } from "./names.js";

/** What one pod attachment needs, decided before any kernel call. */
export interface AttachInput {
  readonly mode: "bridge" | "routed";
  readonly bridge: string;
  readonly bridgeMac: string;
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  readonly mtu?: number;
  readonly hostVeth: string;
  readonly podIfName: string;
  readonly podMac: string;
  readonly podNetns: Netns;
  /** Addresses from IPAM (address with prefix length, gateway). */
  readonly ips: readonly CniIpConfig[];
  /** Extra routes from IPAM. */
  readonly routes: readonly CniRoute[];
}

/** Kernel ops for the host namespace and for the pod namespace, in the order they must run. */
export interface AttachPlan {
  /** Shared host state (bridge, gateway address, forwarding): created if absent, never undone. */
  readonly hostShared: readonly KernelOp[];
  /** The veth pair: creating it is the first pod-specific side effect. */
  readonly createVeth: KernelOp;
  /** Host-side setup of this pod's veth (after it exists). */
  readonly host: readonly KernelOp[];
  readonly pod: readonly KernelOp[];
  readonly hostMac: string;
  /** Routes the pod ends up with, for the CNI result. */
  readonly resultRoutes: readonly CniRoute[];
  /** The ips with their gateway as the pod sees it. */
  readonly resultIps: readonly CniIpConfig[];
}

const isV6 = (cidr: string) => cidr.includes(":");
const addressOf = (cidr: string) => cidr.split("/")[0] ?? cidr;
const prefixOf = (cidr: string) => Number(cidr.split("/")[1]);
const defaultDst = (v6: boolean) => (v6 ? "::/0" : "0.0.0.0/0");

/** Pure planner: the kernel changes that attach one pod in bridge or routed mode. */
export function planAttach(a: AttachInput): AttachPlan {
  const hostMac = a.mode === "routed" ? routedHostMac : undefined;
  const createVeth: KernelOp = {
    op: "link.add",
    spec: {
      kind: "veth",
      name: a.hostVeth,
      mtu: a.mtu,
      mac: hostMac,
      peer: { name: a.podIfName, netns: a.podNetns, mtu: a.mtu, mac: a.podMac },
    },
  };
  return a.mode === "bridge" ? planBridge(a, createVeth) : planRouted(a, createVeth);
}

function planBridge(a: AttachInput, createVeth: KernelOp): AttachPlan {
  const families = new Set(a.ips.map((ip) => (isV6(ip.address) ? 6 : 4)));
  const hostShared: KernelOp[] = [
    {
      op: "link.add",
      spec: { kind: "bridge", name: a.bridge, mtu: a.mtu, mac: a.bridgeMac },
      ifAbsent: true,
    },
    { op: "link.set", name: a.bridge, up: true },
  ];
  if (a.isGateway) {
    for (const ip of a.ips) {
      if (!ip.gateway) continue;
      hostShared.push({
        op: "addr.add",
        dev: a.bridge,
        cidr: `${ip.gateway}/${prefixOf(ip.address)}`,
        ifAbsent: true,
      });
    }
    if (families.has(4)) hostShared.push({ op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" });
    if (families.has(6))
      hostShared.push({ op: "sysctl.set", key: "net/ipv6/conf/all/forwarding", value: "1" });
  }
  const host: KernelOp[] = [{ op: "link.set", name: a.hostVeth, master: a.bridge, up: true }];
  const pod: KernelOp[] = [];
  if (families.has(6)) {
    // DAD would hold the address tentative for ~1 s after ADD returns; pod addresses are unique by IPAM.
    pod.push({ op: "sysctl.set", key: `net/ipv6/conf/${a.podIfName}/accept_dad`, value: "0" });
  }
  for (const ip of a.ips) pod.push({ op: "addr.add", dev: a.podIfName, cidr: ip.address });
  pod.push({ op: "link.set", name: a.podIfName, up: true });
  const routes: CniRoute[] = [];
  if (a.isDefaultGateway) {
    for (const ip of a.ips) {
      if (ip.gateway) routes.push({ dst: defaultDst(isV6(ip.address)), gw: ip.gateway });
    }
  }
  for (const r of a.routes) {
    if (!routes.some((x) => x.dst === r.dst)) routes.push(r);
  }
  for (const r of routes) pod.push(podRoute(a, r, r.gw ?? gatewayFor(a, r.dst)));
  return {
    hostShared,
    createVeth,
    host,
    pod,
    hostMac: "",
    resultRoutes: routes.map((r) => ({ ...r, gw: r.gw ?? gatewayFor(a, r.dst) })),
    resultIps: a.ips.map((ip) => ({ address: ip.address, gateway: ip.gateway })),
  };
}

function planRouted(a: AttachInput, createVeth: KernelOp): AttachPlan {
  const families = new Set(a.ips.map((ip) => (isV6(ip.address) ? 6 : 4)));
  const hostShared: KernelOp[] = [];
  if (families.has(4)) hostShared.push({ op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" });
  if (families.has(6)) hostShared.push({ op: "sysctl.set", key: "net/ipv6/conf/all/forwarding", value: "1" });
  const host: KernelOp[] = [];
  if (families.has(4)) {
    // Proxy ARP makes the host veth answer for 169.254.1.1; delay 0 so the first packet is not held.
    host.push({ op: "sysctl.set", key: `net/ipv4/conf/${a.hostVeth}/proxy_arp`, value: "1" });
    host.push({ op: "sysctl.set", key: `net/ipv4/neigh/${a.hostVeth}/proxy_delay`, value: "0" });
  }
  host.push({ op: "link.set", name: a.hostVeth, up: true });
  for (const ip of a.ips) {
    const v6 = isV6(ip.address);
    host.push({
      op: "route.replace",
      route: { dst: `${addressOf(ip.address)}/${v6 ? 128 : 32}`, dev: a.hostVeth, scope: "link" },
    });
  }
  const pod: KernelOp[] = [];
  if (families.has(6)) {
    pod.push({ op: "sysctl.set", key: `net/ipv6/conf/${a.podIfName}/accept_dad`, value: "0" });
  }
  const resultIps: CniIpConfig[] = [];
  for (const ip of a.ips) {
    const v6 = isV6(ip.address);
    const host32 = `${addressOf(ip.address)}/${v6 ? 128 : 32}`;
    pod.push({ op: "addr.add", dev: a.podIfName, cidr: host32 });
    resultIps.push({ address: host32, gateway: v6 ? routedGatewayV6 : routedGatewayV4 });
  }
  pod.push({ op: "link.set", name: a.podIfName, up: true });
  const routes: CniRoute[] = [];
  if (families.has(4)) {
    pod.push({
      op: "route.replace",
      route: { dst: `${routedGatewayV4}/32`, dev: a.podIfName, scope: "link" },
    });
    routes.push({ dst: "0.0.0.0/0", gw: routedGatewayV4 });
  }
  if (families.has(6)) routes.push({ dst: "::/0", gw: routedGatewayV6 });
  for (const r of routes) pod.push(podRoute(a, r, r.gw));
  return { hostShared, createVeth, host, pod, hostMac: routedHostMac, resultRoutes: routes, resultIps };
}

function podRoute(a: AttachInput, r: CniRoute, gw: string | undefined): KernelOp {
  return {
    op: "route.replace",
    route: { dst: r.dst, via: gw, dev: a.podIfName, ...(r.mtu ? { mtu: r.mtu } : {}) },
  };
}

function gatewayFor(a: AttachInput, dst: string): string | undefined {
  const v6 = isV6(dst);
  return a.ips.find((ip) => isV6(ip.address) === v6 && ip.gateway)?.gateway;
}
