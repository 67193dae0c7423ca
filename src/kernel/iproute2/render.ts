import { type KernelOp, type LinkSpec, offloadFeatureNames, type Route } from "../api.js";
import { netnsRef } from "./netns-args.js";

/** Which program runs a rendered command; `sysctl` commands are file writes under /proc/sys. */
export type Tool = "ip" | "bridge" | "sysctl" | "ethtool";

export interface Rendered {
  readonly tool: Tool;
  /** Arguments after the program name (one line of a -batch file). */
  readonly args: readonly string[];
}

const opt = (flag: string, value: string | number | undefined): string[] =>
  value === undefined ? [] : [flag, String(value)];

function linkAdd(spec: LinkSpec): Rendered[] {
  // Always "name X": iproute2 accepts abbreviations, so a bare "a" would parse as "address".
  const head = [
    "name",
    spec.name,
    ...opt("mtu", "mtu" in spec ? spec.mtu : undefined),
    ...opt("address", "mac" in spec ? spec.mac : undefined),
  ];
  const add = (...rest: string[]): Rendered[] => [{ tool: "ip", args: ["link", "add", ...head, ...rest] }];
  switch (spec.kind) {
    case "veth":
      return add(
        "type",
        "veth",
        "peer",
        "name",
        spec.peer.name,
        ...opt("mtu", spec.peer.mtu),
        ...opt("address", spec.peer.mac),
        ...(spec.peer.netns ? ["netns", netnsRef(spec.peer.netns)] : []),
      );
    case "bridge":
    case "dummy":
    case "wireguard":
      return add("type", spec.kind);
    case "vxlan":
      return add(
        "type",
        "vxlan",
        "id",
        String(spec.vni),
        "dstport",
        String(spec.port),
        ...opt("local", spec.local),
        ...opt("dev", spec.device),
        spec.learning ? "learning" : "nolearning",
      );
    case "macvlan":
    case "ipvlan":
      // With netns the link is made in the pod's namespace at once (no name clash in the node's).
      return add(
        "link",
        spec.parent,
        ...(spec.netns ? ["netns", netnsRef(spec.netns)] : []),
        "type",
        spec.kind,
        "mode",
        spec.mode,
      );
    case "vlan":
      return add("link", spec.parent, "type", "vlan", "id", String(spec.id));
    case "ipip":
    case "gre":
      return add(
        "type",
        spec.kind,
        ...opt("local", spec.local),
        ...opt("remote", spec.remote),
        ...opt("ttl", spec.ttl),
        ...opt("key", spec.kind === "gre" ? spec.key : undefined),
      );
    case "geneve":
      return add("type", "geneve", "id", String(spec.vni), "remote", spec.remote);
    case "vrf":
      return add("type", "vrf", "table", String(spec.table));
    case "tun":
    case "tap": {
      // Tuntap devices are made through their own command; MTU follows as a link setting.
      const out: Rendered[] = [{ tool: "ip", args: ["tuntap", "add", "dev", spec.name, "mode", spec.kind] }];
      if (spec.mtu !== undefined)
        out.push({ tool: "ip", args: ["link", "set", "dev", spec.name, "mtu", String(spec.mtu)] });
      return out;
    }
  }
}

/**
 * `via X`, or `via inet6 X` for an IPv4 destination through an IPv6 gateway (RFC 8950 routes;
 * the kernel's RTA_VIA): without the family word iproute2 reads X as an IPv4 address and fails.
 */
function viaArgs(dst: string, via: string | undefined): string[] {
  if (via === undefined) return [];
  const dstV6 = dst.includes(":");
  return via.includes(":") && !dstV6 && dst !== "default" ? ["via", "inet6", via] : ["via", via];
}

export function routeArgs(r: Route): string[] {
  const args = [r.dst];
  if (r.nexthops && r.nexthops.length > 0) {
    args.push(
      ...opt("table", r.table),
      ...opt("metric", r.metric),
      ...opt("proto", r.proto),
      ...opt("scope", r.scope),
    );
    args.push(...opt("src", r.src), ...opt("mtu", r.mtu));
    for (const nh of r.nexthops) {
      args.push("nexthop", ...opt("via", nh.via), ...opt("dev", nh.dev), ...opt("weight", nh.weight));
      if (nh.onlink) args.push("onlink");
    }
    return args;
  }
  args.push(...viaArgs(r.dst, r.via), ...opt("dev", r.dev));
  if (r.onlink) args.push("onlink");
  args.push(...opt("scope", r.scope), ...opt("table", r.table), ...opt("metric", r.metric));
  args.push(...opt("src", r.src), ...opt("proto", r.proto), ...opt("mtu", r.mtu));
  return args;
}

/** Pure: the commands that carry out one op, in order. */
export function renderOp(op: KernelOp): Rendered[] {
  switch (op.op) {
    case "link.add":
      return linkAdd(op.spec);
    case "link.delete":
      return [{ tool: "ip", args: ["link", "del", "dev", op.name] }];
    case "link.set": {
      const out: Rendered[] = [];
      let dev = op.name;
      if (op.rename) {
        out.push({ tool: "ip", args: ["link", "set", "dev", dev, "down"] });
        out.push({ tool: "ip", args: ["link", "set", "dev", dev, "name", op.rename] });
        dev = op.rename;
      }
      const attrs = [
        ...opt("mtu", op.mtu),
        ...opt("address", op.mac),
        ...(op.master === null ? ["nomaster"] : opt("master", op.master)),
      ];
      if (attrs.length > 0) out.push({ tool: "ip", args: ["link", "set", "dev", dev, ...attrs] });
      if (op.up !== undefined)
        out.push({ tool: "ip", args: ["link", "set", "dev", dev, op.up ? "up" : "down"] });
      if (op.netns) out.push({ tool: "ip", args: ["link", "set", "dev", dev, "netns", netnsRef(op.netns)] });
      return out;
    }
    case "addr.add":
      return [
        {
          tool: "ip",
          args: [
            "addr",
            "add",
            op.cidr,
            ...opt("peer", op.peer),
            "dev",
            op.dev,
            ...opt("scope", op.scope),
            ...(op.noPrefixRoute ? ["noprefixroute"] : []),
            ...(op.noDad ? ["nodad"] : []),
          ],
        },
      ];
    case "addr.delete":
      return [{ tool: "ip", args: ["addr", "del", op.cidr, "dev", op.dev] }];
    case "route.add":
      return [{ tool: "ip", args: ["route", "add", ...routeArgs(op.route)] }];
    case "route.replace":
      return [{ tool: "ip", args: ["route", "replace", ...routeArgs(op.route)] }];
    case "route.delete":
      return [{ tool: "ip", args: ["route", "del", ...routeArgs(op.route)] }];
    case "neigh.replace":
      return [
        {
          tool: "ip",
          args: [
            "neigh",
            "replace",
            op.ip,
            "lladdr",
            op.mac,
            "dev",
            op.dev,
            "nud",
            op.permanent === false ? "reachable" : "permanent",
          ],
        },
      ];
    case "neigh.delete":
      return [{ tool: "ip", args: ["neigh", "del", op.ip, "dev", op.dev] }];
    case "fdb.append":
    case "fdb.replace":
    case "fdb.delete": {
      const verb = op.op === "fdb.append" ? "append" : op.op === "fdb.replace" ? "replace" : "del";
      const e = op.entry;
      return [
        {
          tool: "bridge",
          args: [
            "fdb",
            verb,
            e.mac,
            "dev",
            e.dev,
            ...opt("dst", e.dst),
            ...(e.self || (!e.master && e.dst) ? ["self"] : []),
            ...(e.master ? ["master"] : []),
            ...(e.permanent || verb !== "del" ? ["permanent"] : []),
          ],
        },
      ];
    }
    case "sysctl.set":
      return [{ tool: "sysctl", args: [sysctlPath(op.key), op.value] }];
    case "link.offload": {
      const features = offloadFeatureNames.flatMap((f) =>
        op[f] === undefined ? [] : [f, op[f] ? "on" : "off"],
      );
      return features.length === 0 ? [] : [{ tool: "ethtool", args: ["-K", op.name, ...features] }];
    }
  }
}

/**
 * "net.ipv4.ip_forward" or "net/ipv4/conf/eth0.5/proxy_arp" → /proc/sys path. The slash form is
 * the unambiguous one (interface names may contain dots); dots are converted only without slashes.
 */
export function sysctlPath(key: string): string {
  const rel = key.includes("/") ? key : key.replaceAll(".", "/");
  if (rel.split("/").some((p) => p === ".." || p === "")) throw new RangeError(`invalid sysctl key ${key}`);
  return `/proc/sys/${rel}`;
}

/** Quote one batch-file argument for iproute2's makeargs (double quotes, backslash escapes). */
export function batchLine(args: readonly string[]): string {
  return args
    .map((a) =>
      /^[A-Za-z0-9_.:/@%+=,-]+$/.test(a) ? a : `"${a.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`,
    )
    .join(" ");
}
