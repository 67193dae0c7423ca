import type { Address, FdbEntry, Link, Neighbour, Route } from "../api.js";

/** Pure parsers of `ip -json` / `bridge -json` output into the kernel API's types. */

interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  address?: string;
  master?: string;
  link_index?: number;
  link_netnsid?: number;
  /** The parent's name (macvlan, vlan, ...) when it is in the same namespace. */
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

export function parseLinks(json: string): Link[] {
  const raw = JSON.parse(json || "[]") as IpLink[];
  return raw.map((l) => {
    const kind = l.linkinfo?.info_kind;
    const data = l.linkinfo?.info_data ?? {};
    const link: Link = {
      index: l.ifindex,
      name: l.ifname,
      kind,
      mtu: l.mtu,
      mac: l.address,
      up: (l.flags ?? []).includes("UP"),
      operState: l.operstate ?? "UNKNOWN",
      master: l.master,
      peerIndex: kind === "veth" ? l.link_index : undefined,
      peerNetnsId: kind === "veth" ? l.link_netnsid : undefined,
      vxlan:
        kind === "vxlan"
          ? {
              vni: Number(data.id),
              port: Number(data.port),
              local: typeof data.local === "string" ? data.local : undefined,
              learning: data.learning === true,
            }
          : undefined,
      macvlan:
        kind === "macvlan"
          ? { mode: String(data.mode), parent: typeof l.link === "string" ? l.link : undefined }
          : undefined,
      tun: kind === "tun" ? { type: data.type === "tap" ? "tap" : "tun" } : undefined,
    };
    return link;
  });
}

interface IpAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

export function parseAddresses(json: string): Address[] {
  const raw = JSON.parse(json || "[]") as IpAddr[];
  return raw.flatMap((l) =>
    (l.addr_info ?? []).map((a) => ({
      dev: l.ifname,
      family: a.family === "inet6" ? (6 as const) : (4 as const),
      cidr: `${a.local}/${a.prefixlen}`,
      scope: a.scope,
    })),
  );
}

interface IpRoute {
  dst: string;
  gateway?: string;
  /** A gateway of the other family (RTA_VIA: an IPv4 route via an IPv6 address). */
  via?: { family?: string; host?: string };
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  table?: string;
  flags?: string[];
  nexthops?: { gateway?: string; dev?: string; weight?: number; flags?: string[] }[];
  metrics?: { mtu?: number }[];
}

const tableIds: Record<string, number> = { main: 254, local: 255, default: 253 };

/** Destinations come back bare for host routes ("10.0.0.5"); give them their prefix length. */
function normaliseDst(dst: string): string {
  if (dst === "default" || dst.includes("/")) return dst;
  return dst.includes(":") ? `${dst}/128` : `${dst}/32`;
}

export function parseRoutes(json: string, family?: 4 | 6): Route[] {
  const raw = JSON.parse(json || "[]") as IpRoute[];
  return raw.map((r) => {
    const table = r.table === undefined ? undefined : (tableIds[r.table] ?? Number(r.table));
    const mtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
    return {
      dst: normaliseDst(r.dst),
      via: r.gateway ?? r.via?.host,
      dev: r.dev,
      onlink: (r.flags ?? []).includes("onlink") || undefined,
      scope: r.scope === "link" || r.scope === "host" || r.scope === "global" ? r.scope : undefined,
      table,
      metric: r.metric,
      src: r.prefsrc,
      proto: r.protocol,
      mtu,
      nexthops: r.nexthops?.map((nh) => ({
        via: nh.gateway,
        dev: nh.dev,
        weight: nh.weight,
        onlink: (nh.flags ?? []).includes("onlink") || undefined,
      })),
      family: family ?? (r.dst.includes(":") || r.gateway?.includes(":") ? 6 : 4),
    } satisfies Route;
  });
}

interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

export function parseNeighbours(json: string): Neighbour[] {
  const raw = JSON.parse(json || "[]") as IpNeigh[];
  return raw.map((n) => ({ dev: n.dev, ip: n.dst, mac: n.lladdr, state: n.state?.[0] }));
}

interface BridgeFdb {
  mac: string;
  ifname: string;
  dst?: string;
  master?: string;
  flags?: string[];
  state?: string;
}

export function parseFdb(json: string): FdbEntry[] {
  const raw = JSON.parse(json || "[]") as BridgeFdb[];
  return raw.map((e) => ({
    dev: e.ifname,
    mac: e.mac,
    dst: e.dst,
    master: e.master !== undefined || undefined,
    self: (e.flags ?? []).includes("self") || undefined,
    permanent: e.state === "permanent" || undefined,
  }));
}
