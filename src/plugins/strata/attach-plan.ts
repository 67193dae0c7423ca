import type { CniIpConfig, CniRoute } from "../../cni/result.js";
import type { KernelOp, Netns } from "../../kernel/api.js";
import { podInterfaceOps, podRoutes } from "../toolkit/pod-addressing.js";
import { routedGatewayV4, routedGatewayV6 } from "./names.js";

/** What wiring one pod needs before its addresses are known. */
export interface LinkInput {
  readonly mode: "bridge" | "routed";
  readonly bridge: string;
  readonly bridgeMac: string;
  readonly mtu?: number;
  readonly hostVeth: string;
  readonly hostMac: string;
  readonly podIfName: string;
  readonly podMac: string;
  readonly podNetns: Netns;
}

/** Everything about one pod attachment, addresses included. */
export interface AttachInput extends LinkInput {
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  /** Addresses from IPAM (address with prefix length, gateway). */
  readonly ips: readonly CniIpConfig[];
  /** Extra routes from IPAM. */
  readonly routes: readonly CniRoute[];
}

/**
 * The node-side wiring that needs no address, so it runs while IPAM allocates.
 * `sharedLink` (the bridge) is the same for every pod: a resident agent applies it once.
 */
export interface LinkPlan {
  readonly sharedLink: readonly KernelOp[];
  /** The veth pair (pod end created inside the pod namespace) first, then its host-side setup. */
  readonly link: readonly KernelOp[];
}

/** The address-dependent part: node side and pod side, applied in parallel (different namespaces). */
export interface AddressPlan {
  /** Gateway address on the bridge, forwarding: shared by every pod of the network. */
  readonly sharedAddress: readonly KernelOp[];
  /** This pod's host-side routes and sysctls (routed mode). */
  readonly host: readonly KernelOp[];
  readonly pod: readonly KernelOp[];
  /** Routes the pod ends up with, for the CNI result. */
  readonly resultRoutes: readonly CniRoute[];
  /** The ips with their gateway as the pod sees it. */
  readonly resultIps: readonly CniIpConfig[];
}

const isV6 = (cidr: string) => cidr.includes(":");
const addressOf = (cidr: string) => cidr.split("/")[0] ?? cidr;
const prefixOf = (cidr: string) => Number(cidr.split("/")[1]);

/** Pure planner: the address-free wiring of one pod. */
export function planLink(a: LinkInput): LinkPlan {
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
  if (a.mode === "bridge") {
    return {
      sharedLink: [
        {
          op: "link.add",
          spec: { kind: "bridge", name: a.bridge, mtu: a.mtu, mac: a.bridgeMac },
          ifAbsent: true,
        },
        { op: "link.set", name: a.bridge, up: true },
      ],
      link: [createVeth, { op: "link.set", name: a.hostVeth, master: a.bridge, up: true }],
    };
  }
  return { sharedLink: [], link: [createVeth, { op: "link.set", name: a.hostVeth, up: true }] };
}

function forwardingSysctls(ips: readonly CniIpConfig[]): KernelOp[] {
  const out: KernelOp[] = [];
  if (ips.some((ip) => !isV6(ip.address)))
    out.push({ op: "sysctl.set", key: "net/ipv4/ip_forward", value: "1" });
  if (ips.some((ip) => isV6(ip.address)))
    out.push({ op: "sysctl.set", key: "net/ipv6/conf/all/forwarding", value: "1" });
  return out;
}

/** Pure planner: addresses, routes and sysctls of one pod in bridge or routed mode. */
export function planAddresses(a: AttachInput): AddressPlan {
  const sharedAddress: KernelOp[] = [];
  const host: KernelOp[] = [];
  let podAddresses: string[];
  let routes: CniRoute[];
  let resultIps: CniIpConfig[];

  if (a.mode === "bridge") {
    if (a.isGateway) {
      for (const ip of a.ips) {
        if (ip.gateway) {
          sharedAddress.push({
            op: "addr.add",
            dev: a.bridge,
            cidr: `${ip.gateway}/${prefixOf(ip.address)}`,
            ifAbsent: true,
          });
        }
      }
      sharedAddress.push(...forwardingSysctls(a.ips));
    }
    podAddresses = a.ips.map((ip) => ip.address);
    routes = podRoutes(a.ips, a.routes, { defaultGateway: a.isDefaultGateway });
    resultIps = a.ips.map((ip) => ({ address: ip.address, gateway: ip.gateway }));
  } else {
    sharedAddress.push(...forwardingSysctls(a.ips));
    resultIps = [];
    podAddresses = [];
    routes = [];
    for (const ip of a.ips) {
      const v6 = isV6(ip.address);
      const host32 = `${addressOf(ip.address)}/${v6 ? 128 : 32}`;
      host.push({ op: "route.replace", route: { dst: host32, dev: a.hostVeth, scope: "link" } });
      podAddresses.push(host32);
      resultIps.push({ address: host32, gateway: v6 ? routedGatewayV6 : routedGatewayV4 });
    }
    if (a.ips.some((ip) => !isV6(ip.address))) {
      // Proxy ARP makes the host veth answer for 169.254.1.1; delay 0 so the first packet is not held.
      host.push({ op: "sysctl.set", key: `net/ipv4/conf/${a.hostVeth}/proxy_arp`, value: "1" });
      host.push({ op: "sysctl.set", key: `net/ipv4/neigh/${a.hostVeth}/proxy_delay`, value: "0" });
      routes.push({ dst: "0.0.0.0/0", gw: routedGatewayV4 });
    }
    if (a.ips.some((ip) => isV6(ip.address))) routes.push({ dst: "::/0", gw: routedGatewayV6 });
  }

  // Routed mode: the IPv4 gateway is link-local, outside the pod's /32 (IPv6's fe80:: is on-link anyway).
  const onLinkGateways =
    a.mode === "routed" && a.ips.some((ip) => !isV6(ip.address)) ? [routedGatewayV4] : [];
  const pod = podInterfaceOps({ ifName: a.podIfName, addresses: podAddresses, routes, onLinkGateways });
  return { sharedAddress, host, pod, resultRoutes: routes, resultIps };
}
