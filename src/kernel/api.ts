/**
 * The one typed interface through which Strata touches the kernel. Every call names the network
 * namespace it acts in, so no code ever relies on a process-wide "current" namespace switch.
 *
 * Writes are expressed as data (`KernelOp`) and applied in order by `Kernel.apply`; planners build
 * op lists as pure functions, drivers render them (iproute2 batch today; rtnetlink could replace it
 * behind this interface).
 */

/** Which network namespace a call acts in. */
export type Netns =
  | { readonly kind: "current" }
  /** A namespace under /run/netns, as made by `ip netns add`. */
  | { readonly kind: "named"; readonly name: string }
  /** Any namespace file: /proc/PID/ns/net, a runtime's bind mount (CNI_NETNS). */
  | { readonly kind: "path"; readonly path: string };

export const currentNetns: Netns = { kind: "current" };
export const namedNetns = (name: string): Netns => ({ kind: "named", name });
export const netnsAtPath = (path: string): Netns => ({ kind: "path", path });

/** Where `ip netns add` puts named namespaces. */
export const netnsRunDir = "/run/netns";

/** Filesystem path of a namespace, or undefined for the caller's own. */
export function netnsPath(ns: Netns): string | undefined {
  switch (ns.kind) {
    case "current":
      return undefined;
    case "named":
      return `${netnsRunDir}/${ns.name}`;
    case "path":
      return ns.path;
  }
}

/** Link kinds Strata knows how to create. `tun`/`tap` are created through the tuntap interface. */
export type LinkKind =
  | "veth"
  | "bridge"
  | "vxlan"
  | "macvlan"
  | "ipvlan"
  | "tun"
  | "tap"
  | "ipip"
  | "gre"
  | "vlan"
  | "wireguard"
  | "geneve"
  | "dummy"
  | "vrf";

export type LinkSpec =
  | {
      readonly kind: "veth";
      readonly name: string;
      readonly mtu?: number;
      readonly mac?: string;
      /** The other end; created directly inside `peer.netns` when given (no rename race in the host). */
      readonly peer: {
        readonly name: string;
        readonly netns?: Netns;
        readonly mtu?: number;
        readonly mac?: string;
      };
    }
  | { readonly kind: "bridge"; readonly name: string; readonly mtu?: number; readonly mac?: string }
  | {
      readonly kind: "vxlan";
      readonly name: string;
      readonly vni: number;
      /** UDP destination port: 4789 (IANA) or 8472 (Linux/Flannel default). */
      readonly port: number;
      readonly local?: string;
      readonly device?: string;
      readonly learning: boolean;
      readonly mtu?: number;
      readonly mac?: string;
    }
  | {
      readonly kind: "macvlan";
      readonly name: string;
      readonly parent: string;
      readonly mode: "bridge" | "private" | "vepa" | "passthru";
      readonly mtu?: number;
      readonly mac?: string;
      /** Create it directly inside this namespace (the parent is looked up where the op runs). */
      readonly netns?: Netns;
    }
  | {
      readonly kind: "ipvlan";
      readonly name: string;
      readonly parent: string;
      readonly mode: "l2" | "l3" | "l3s";
      readonly mtu?: number;
      /** Create it directly inside this namespace (the parent is looked up where the op runs). */
      readonly netns?: Netns;
    }
  | { readonly kind: "tun" | "tap"; readonly name: string; readonly mtu?: number }
  | {
      readonly kind: "ipip" | "gre";
      readonly name: string;
      readonly local?: string;
      /** "any" (or absent): one device for every peer, the outer destination from the route's gateway. */
      readonly remote?: string;
      readonly ttl?: number;
      /** GRE only: the key (RFC 2890 §2.1) sent and expected, 4 more bytes per packet. */
      readonly key?: number;
      readonly mtu?: number;
    }
  | {
      readonly kind: "vlan";
      readonly name: string;
      readonly parent: string;
      readonly id: number;
      readonly mtu?: number;
    }
  | { readonly kind: "dummy" | "wireguard"; readonly name: string; readonly mtu?: number }
  | {
      readonly kind: "geneve";
      readonly name: string;
      readonly vni: number;
      readonly remote: string;
      readonly mtu?: number;
    }
  | { readonly kind: "vrf"; readonly name: string; readonly table: number; readonly mtu?: number };

export interface NextHop {
  readonly via?: string;
  readonly dev?: string;
  readonly weight?: number;
  readonly onlink?: boolean;
}

export interface Route {
  /** "default" or a CIDR; a bare address means a host route. */
  readonly dst: string;
  readonly via?: string;
  readonly dev?: string;
  readonly onlink?: boolean;
  readonly scope?: "global" | "link" | "host";
  /** Routing table id; main (254) when absent. */
  readonly table?: number;
  readonly metric?: number;
  readonly src?: string;
  readonly proto?: string;
  readonly mtu?: number;
  /** ECMP next hops; when present `via`/`dev` are ignored. */
  readonly nexthops?: readonly NextHop[];
  readonly family?: 4 | 6;
}

export interface Neighbour {
  readonly dev: string;
  readonly ip: string;
  readonly mac?: string;
  readonly state?: string;
}

export interface FdbEntry {
  readonly dev: string;
  readonly mac: string;
  /** Remote VTEP address for VXLAN devices. */
  readonly dst?: string;
  readonly master?: boolean;
  readonly self?: boolean;
  readonly permanent?: boolean;
}

export interface LinkSettings {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly mac?: string;
  /** Enslave to a bridge; `null` releases the link from its master. */
  readonly master?: string | null;
  /** Move the link into another namespace (applied last). */
  readonly netns?: Netns;
  /** Rename the link (the link must be down; applied before `up`). */
  readonly rename?: string;
}

export type KernelOp =
  | { readonly op: "link.add"; readonly spec: LinkSpec; readonly ifAbsent?: boolean }
  | { readonly op: "link.delete"; readonly name: string; readonly ifPresent?: boolean }
  | ({ readonly op: "link.set"; readonly name: string } & LinkSettings)
  | {
      readonly op: "addr.add";
      readonly dev: string;
      /** Address with prefix length, e.g. 10.1.0.5/24. */
      readonly cidr: string;
      readonly ifAbsent?: boolean;
      readonly scope?: "global" | "link" | "host";
      readonly noPrefixRoute?: boolean;
      /** IPv6: skip duplicate address detection (the address is unique by construction). */
      readonly noDad?: boolean;
      /** Point-to-point peer (e.g. `10.1.0.5/32 peer 169.254.1.1`). */
      readonly peer?: string;
    }
  | { readonly op: "addr.delete"; readonly dev: string; readonly cidr: string; readonly ifPresent?: boolean }
  | { readonly op: "route.add"; readonly route: Route; readonly ifAbsent?: boolean }
  | { readonly op: "route.replace"; readonly route: Route }
  | { readonly op: "route.delete"; readonly route: Route; readonly ifPresent?: boolean }
  | {
      readonly op: "neigh.replace";
      readonly dev: string;
      readonly ip: string;
      readonly mac: string;
      readonly permanent?: boolean;
    }
  | { readonly op: "neigh.delete"; readonly dev: string; readonly ip: string; readonly ifPresent?: boolean }
  | { readonly op: "fdb.append" | "fdb.replace"; readonly entry: FdbEntry }
  | { readonly op: "fdb.delete"; readonly entry: FdbEntry; readonly ifPresent?: boolean }
  | { readonly op: "sysctl.set"; readonly key: string; readonly value: string }
  /**
   * A link's offload features, as `ethtool -K NAME tso off gso off gro on` sets them: `tso` is every
   * TCP segmentation offload (tx-tcp-segmentation and its IPv6/ECN/mangleid kin), `gso` generic
   * segmentation, `gro` generic receive offload; a feature left out is left as it is. Set in that
   * order, as the wanted value: one held back by a feature it depends on (tso without sg) follows
   * when that allows, as with ethtool. A feature fixed for the device fails the op ("failed"), a
   * missing link is "not-found". Nothing is done when none is given.
   */
  | ({ readonly op: "link.offload"; readonly name: string } & OffloadFeatures);

/** The offload features `link.offload` sets (true: on, false: off, absent: as it is). */
export interface OffloadFeatures {
  readonly tso?: boolean;
  readonly gso?: boolean;
  readonly gro?: boolean;
}

/** The order `link.offload` sets its features in, and ethtool's name of each. */
export const offloadFeatureNames = [
  "tso",
  "gso",
  "gro",
] as const satisfies readonly (keyof OffloadFeatures)[];

export interface Link {
  readonly index: number;
  readonly name: string;
  /** Link kind from IFLA_INFO_KIND ("veth", "bridge", "vxlan", ...); undefined for physical/loopback. */
  readonly kind?: string;
  readonly mtu: number;
  readonly mac?: string;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  readonly operState: string;
  readonly master?: string;
  /** For veth: ifindex of the peer (in `peerNetnsId`'s namespace when that is set). */
  readonly peerIndex?: number;
  readonly peerNetnsId?: number;
  readonly vxlan?: {
    readonly vni: number;
    readonly port: number;
    readonly local?: string;
    readonly learning: boolean;
  };
  /** For macvlan: its mode and, when in the same namespace, its parent's name. */
  readonly macvlan?: { readonly mode: string; readonly parent?: string };
  /** For tun/tap devices (IFLA_INFO_KIND is "tun" for both): which of the two. */
  readonly tun?: { readonly type: "tun" | "tap" };
}

export interface Address {
  readonly dev: string;
  readonly family: 4 | 6;
  /** Address with prefix length. */
  readonly cidr: string;
  readonly scope: string;
}

export interface RouteQuery {
  readonly family?: 4 | 6;
  /** Table id or "all"; main when absent. */
  readonly table?: number | "all";
  readonly dev?: string;
}

/** One end of a TCP connection: an address as inet_ntop writes it (so `::ffff:a.b.c.d`), a port. */
export interface TcpEnd {
  readonly address: string;
  readonly port: number;
}

/** An established TCP connection of a namespace, as the kernel holds its socket. */
export interface TcpSession {
  /** The socket's family (an IPv4 peer of a dual-stack IPv6 socket is 6, `::ffff:` addresses). */
  readonly family: 4 | 6;
  readonly local: TcpEnd;
  readonly remote: TcpEnd;
}

export interface TcpSessionQuery {
  /** Only connections with this local or remote port. */
  readonly port?: number;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What this kernel can do, found by trying (no module loading is attempted). */
export interface KernelCapabilities {
  readonly linkKinds: Readonly<Record<LinkKind, boolean>>;
  readonly nftables: boolean;
  readonly iptables: boolean;
}

export interface NetnsControl {
  /** `ip netns add`; with ifAbsent an existing namespace is fine. */
  create(name: string, opts?: { ifAbsent?: boolean }): Promise<void>;
  /** `ip netns del`; with ifPresent a missing namespace is fine. */
  delete(name: string, opts?: { ifPresent?: boolean }): Promise<void>;
  list(): Promise<string[]>;
  exists(ns: Netns): Promise<boolean>;
}

export interface Kernel {
  readonly netns: NetnsControl;
  /**
   * Apply ops in order inside `ns`. Stops at the first failure and throws a KernelError naming that
   * op; ops before it stay applied (callers undo through their own undo stack).
   * `ifAbsent` / `ifPresent` turn "exists" / "not found" into success.
   */
  apply(ns: Netns, ops: readonly KernelOp[]): Promise<void>;
  links(ns: Netns): Promise<Link[]>;
  /** undefined when absent. */
  link(ns: Netns, name: string): Promise<Link | undefined>;
  addresses(ns: Netns, dev?: string): Promise<Address[]>;
  routes(ns: Netns, query?: RouteQuery): Promise<Route[]>;
  neighbours(ns: Netns, dev?: string): Promise<Neighbour[]>;
  fdb(ns: Netns, dev?: string): Promise<FdbEntry[]>;
  sysctl(ns: Netns, key: string): Promise<string>;
  /**
   * Established TCP connections (IPv4 sockets, then IPv6, each in the kernel's order), what
   * `ss -Htn state established` lists; with a port, those with it at either end.
   */
  tcpSessions(ns: Netns, query?: TcpSessionQuery): Promise<TcpSession[]>;
  /** Run a program inside `ns` (ping, iperf3, a plugin). */
  exec(
    ns: Netns,
    argv: readonly string[],
    opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<ExecResult>;
  probe(): Promise<KernelCapabilities>;
}
