import type { CniIpConfig, CniRoute } from "../../cni/result.js";
import type { KernelOp, Netns } from "../../kernel/api.js";
import { routedGatewayV4, routedGatewayV6 } from "./names.js";

/** What one pod attachment needs, decided before any kernel call. */
export interface AttachInput {
  readonly mode: "bridge" | "routed";
  readonly bridge: string;
  readonly bridgeMac: string;
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  readonly mtu?: number;
  readonly hostVeth: string;
  readonly hostMac: string;
  readonly podIfName: string;
  readonly podMac: string;
  readonly podNetns: Netns;
  /** Addresses from IPAM (address with prefix length, gateway). */
  readonly ips: readonly CniIpConfig[];
  /** Extra routes from IPAM. */
  readonly routes: readonly CniRoute[];
}

/**
 * Kernel ops for the host namespace and for the pod namespace. Each list is applied in one go
 * (one iproute2 batch per namespace), which is what makes an ADD cheap.
 */
export interface AttachPlan {
  /**
   * Shared node state (bridge, gateway address, forwarding): idempotent, never undone, and the same
   * for every pod of the network, so a resident agent applies it once and skips it afterwards.
   */
  readonly shared: readonly KernelOp[];
  /**
   * This pod's host side: the veth pair first (its pod end created inside the pod namespace), then
   * its host-side setup; iproute2 ops first and sysctl writes last, so it runs as one batch.
   */
  readonly attach: readonly KernelOp[];
  readonly pod: readonly KernelOp[];
  /** Routes the pod ends up with, for the CNI result. */
  readonly resultRoutes: readonly CniRoute[];
  /** The ips with their gateway as the pod sees it. */
  readonly resultIps: readonly CniIpConfig[];
}

const isV6 = (cidr: string) => cidr.includes(":");
const addressOf = (cidr: string) => cidr.split("/")[0] ?? cidr;
const prefixOf = (cidr: string) => Number(cidr.split("/")[1]);
const defaultDst = (v6: boolean) => (v6 ? "::/0" : "0.0.0.0/0");

function forwardingSysctls(ips: readonly CniIpConfig[]): KernelOp[] {
  const out: KernelOp[] = [];
  if (ips.some((ip) => !isV6(ip.address)))
    out.push({ op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" });
  if (ips.some((ip) => isV6(ip.address)))
    out.push({ op: "sysctl.set", key: "net/ipv6/conf/all/forwarding", value: "1" });
  return out;
}

/** Pure planner: the kernel changes that attach one pod in bridge or routed mode. */
export function planAttach(a: AttachInput): AttachPlan {
  const createVeth: KernelOp = {
    op: "link.add",
    spec: {
      kind: "veth",
      name: a.hostVeth,
      mtu: a.mtu,
      mac: a.hostMac,
      peer: { name: a.podIfName, netns: a.podNetns, mtu: a.mtu, mac: a.podMac },
    },
  };
  const shared: KernelOp[] = [];
  const hostSide: KernelOp[] = [];
  const sysctls: KernelOp[] = [];
  const pod: KernelOp[] = [];
  const routes: CniRoute[] = [];
  let resultIps: CniIpConfig[];

  if (a.mode === "bridge") {
    shared.push(
      {
        op: "link.add",
        spec: { kind: "bridge", name: a.bridge, mtu: a.mtu, mac: a.bridgeMac },
        ifAbsent: true,
      },
      { op: "link.set", name: a.bridge, up: true },
    );
    if (a.isGateway) {
      for (const ip of a.ips) {
        if (ip.gateway) {
          shared.push({
            op: "addr.add",
            dev: a.bridge,
            cidr: `${ip.gateway}/${prefixOf(ip.address)}`,
            ifAbsent: true,
          });
        }
      }
      sysctls.push(...forwardingSysctls(a.ips));
    }
    hostSide.push({ op: "link.set", name: a.hostVeth, master: a.bridge, up: true });
    for (const ip of a.ips)
      pod.push({ op: "addr.add", dev: a.podIfName, cidr: ip.address, noDad: isV6(ip.address) });
    if (a.isDefaultGateway) {
      for (const ip of a.ips)
        if (ip.gateway) routes.push({ dst: defaultDst(isV6(ip.address)), gw: ip.gateway });
    }
    for (const r of a.routes)
      if (!routes.some((x) => x.dst === r.dst)) routes.push({ ...r, gw: r.gw ?? gatewayFor(a, r.dst) });
    resultIps = a.ips.map((ip) => ({ address: ip.address, gateway: ip.gateway }));
  } else {
    sysctls.push(...forwardingSysctls(a.ips));
    hostSide.push({ op: "link.set", name: a.hostVeth, up: true });
    resultIps = [];
    for (const ip of a.ips) {
      const v6 = isV6(ip.address);
      const host32 = `${addressOf(ip.address)}/${v6 ? 128 : 32}`;
      hostSide.push({ op: "route.replace", route: { dst: host32, dev: a.hostVeth, scope: "link" } });
      pod.push({ op: "addr.add", dev: a.podIfName, cidr: host32, noDad: v6 });
      resultIps.push({ address: host32, gateway: v6 ? routedGatewayV6 : routedGatewayV4 });
    }
    if (a.ips.some((ip) => !isV6(ip.address))) {
      // Proxy ARP makes the host veth answer for 169.254.1.1; delay 0 so the first packet is not held.
      sysctls.push({ op: "sysctl.set", key: `net/ipv4/conf/${a.hostVeth}/proxy_arp`, value: "1" });
      sysctls.push({ op: "sysctl.set", key: `net/ipv4/neigh/${a.hostVeth}/proxy_delay`, value: "0" });
      routes.push({ dst: "0.0.0.0/0", gw: routedGatewayV4 });
    }
    if (a.ips.some((ip) => isV6(ip.address))) routes.push({ dst: "::/0", gw: routedGatewayV6 });
  }

  pod.push({ op: "link.set", name: a.podIfName, up: true });
  if (a.mode === "routed" && a.ips.some((ip) => !isV6(ip.address))) {
    pod.push({
      op: "route.replace",
      route: { dst: `${routedGatewayV4}/32`, dev: a.podIfName, scope: "link" },
    });
  }
  for (const r of routes) {
    pod.push({
      op: "route.replace",
      route: { dst: r.dst, via: r.gw, dev: a.podIfName, ...(r.mtu ? { mtu: r.mtu } : {}) },
    });
  }
  const perPodSysctls = sysctls.filter((o) => o.op === "sysctl.set" && o.key.includes(a.hostVeth));
  const sharedSysctls = sysctls.filter((o) => !perPodSysctls.includes(o));
  return {
    shared: [...shared, ...sharedSysctls],
    attach: [createVeth, ...hostSide, ...perPodSysctls],
    pod,
    resultRoutes: routes,
    resultIps,
  };
}

function gatewayFor(a: AttachInput, dst: string): string | undefined {
  const v6 = isV6(dst);
  return a.ips.find((ip) => isV6(ip.address) === v6 && ip.gateway)?.gateway;
}
