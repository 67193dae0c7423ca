import ipaddr from "ipaddr.js";
import { z } from "zod";
import { invalidConfig } from "../cni/errors.js";
import { bits, formatIp, type Ip, offset, parseIp } from "./address.js";

/** One range of a range set, normalised: every field filled in, as numbers. */
export interface IpRange {
  readonly subnet: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  readonly network: Ip;
  readonly rangeStart: Ip;
  readonly rangeEnd: Ip;
  readonly gateway: Ip;
}

/** Addresses of one range set are handed out together: one address per range set per ADD. */
export type RangeSet = readonly IpRange[];

export interface IpamConfig {
  readonly type: string;
  readonly rangeSets: readonly RangeSet[];
  readonly routes: readonly { dst: string; gw?: string }[];
  readonly dataDir: string;
  readonly dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

export const defaultDataDir = "/var/lib/cni/networks";

const rangeSchema = z.looseObject({
  subnet: z.string({ error: "needs a subnet" }),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
});
const routeSchema = z.looseObject({ dst: z.string(), gw: z.string().optional() });
const ipamSchema = z.looseObject({
  type: z.string(),
  ranges: z.array(z.array(rangeSchema).min(1, "a range set needs at least one range")).optional(),
  // Legacy single-range form at the top level (host-local accepts it too).
  subnet: z.string().optional(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
  routes: z.array(routeSchema).optional(),
  dataDir: z.string().min(1).optional(),
  dns: z
    .looseObject({
      nameservers: z.array(z.string()).optional(),
      domain: z.string().optional(),
      search: z.array(z.string()).optional(),
      options: z.array(z.string()).optional(),
    })
    .optional(),
});

function parseAddr(text: string, where: string): Ip {
  if (!ipaddr.isValid(text))
    throw invalidConfig(`${where} "${text}" is not an IP address`, `write ${where} as e.g. 10.22.0.10`);
  return parseIp(text);
}

function normaliseRange(r: z.infer<typeof rangeSchema>, where: string): IpRange {
  let net: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    net = ipaddr.parseCIDR(r.subnet);
  } catch {
    throw invalidConfig(
      `${where}.subnet "${r.subnet}" is not a CIDR`,
      `write the subnet as e.g. 10.22.0.0/16`,
    );
  }
  const family = net[0].kind() === "ipv4" ? 4 : 6;
  const prefix = net[1];
  const size = BigInt(bits(family) - prefix);
  if (size < 2n) {
    throw invalidConfig(
      `${where}.subnet ${r.subnet} is too small to allocate from`,
      "use a subnet of /30 (IPv4) or /126 (IPv6) or larger",
    );
  }
  const mask = ((1n << BigInt(bits(family))) - 1n) ^ ((1n << size) - 1n);
  const network: Ip = { family, value: parseIp(net[0].toString()).value & mask };
  const last: Ip = offset(network, (1n << size) - 1n);
  const inSubnet = (ip: Ip) => ip.family === family && ip.value >= network.value && ip.value <= last.value;
  const canonical = `${formatIp(network)}/${prefix}`;
  const gateway = r.gateway ? parseAddr(r.gateway, `${where}.gateway`) : offset(network, 1n);
  if (!inSubnet(gateway))
    throw invalidConfig(
      `${where}.gateway ${r.gateway} is outside ${canonical}`,
      "pick a gateway inside the subnet",
    );
  // IPv4 keeps the network and broadcast addresses out; IPv6 only the subnet-router anycast (network).
  const start = r.rangeStart ? parseAddr(r.rangeStart, `${where}.rangeStart`) : offset(network, 1n);
  const end = r.rangeEnd
    ? parseAddr(r.rangeEnd, `${where}.rangeEnd`)
    : family === 4
      ? offset(last, -1n)
      : last;
  if (!inSubnet(start))
    throw invalidConfig(
      `${where}.rangeStart ${r.rangeStart} is outside ${canonical}`,
      "keep rangeStart inside the subnet",
    );
  if (!inSubnet(end))
    throw invalidConfig(
      `${where}.rangeEnd ${r.rangeEnd} is outside ${canonical}`,
      "keep rangeEnd inside the subnet",
    );
  if (start.value > end.value) {
    throw invalidConfig(
      `${where}.rangeStart ${formatIp(start)} is after rangeEnd ${formatIp(end)}`,
      "swap rangeStart and rangeEnd",
    );
  }
  if (family === 4 && (start.value === network.value || end.value === last.value)) {
    throw invalidConfig(
      `${where} includes the network or broadcast address of ${canonical}`,
      "keep rangeStart/rangeEnd off the first and last address",
    );
  }
  return { subnet: canonical, family, prefix, network, rangeStart: start, rangeEnd: end, gateway };
}

const overlap = (a: IpRange, b: IpRange) =>
  a.family === b.family && a.rangeStart.value <= b.rangeEnd.value && b.rangeStart.value <= a.rangeEnd.value;

/** Decode and validate the `ipam` section (host-local's keys). Throws CniError code 7 saying what to fix. */
export function parseIpamConfig(raw: unknown): IpamConfig {
  const parsed = ipamSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = ["ipam", ...(issue?.path ?? [])].join(".");
    throw invalidConfig(
      `invalid ipam configuration: ${where} ${issue?.message ?? "is invalid"}`,
      `fix ${where} (host-local's keys apply)`,
    );
  }
  const c = parsed.data;
  if (c.ranges && c.subnet) {
    throw invalidConfig(
      'ipam has both "ranges" and "subnet"',
      'use "ranges" (or the legacy "subnet" form), not both',
    );
  }
  const rawSets =
    c.ranges ??
    (c.subnet
      ? [[{ subnet: c.subnet, rangeStart: c.rangeStart, rangeEnd: c.rangeEnd, gateway: c.gateway }]]
      : []);
  if (rawSets.length === 0) {
    throw invalidConfig("ipam has no address ranges", 'add "ranges": [[{"subnet": "10.22.0.0/16"}]]');
  }
  const rangeSets = rawSets.map((set, i) => set.map((r, j) => normaliseRange(r, `ipam.ranges[${i}][${j}]`)));
  const all = rangeSets.flatMap((set, i) => set.map((r, j) => ({ r, where: `ranges[${i}][${j}]` })));
  for (const [i, set] of rangeSets.entries()) {
    if (new Set(set.map((r) => r.family)).size > 1) {
      throw invalidConfig(
        `ipam.ranges[${i}] mixes IPv4 and IPv6`,
        "put IPv4 and IPv6 ranges in separate range sets",
      );
    }
  }
  for (let a = 0; a < all.length; a++) {
    for (let b = a + 1; b < all.length; b++) {
      const x = all[a];
      const y = all[b];
      if (x && y && overlap(x.r, y.r)) {
        throw invalidConfig(
          `ipam ${x.where} (${x.r.subnet}) overlaps ${y.where} (${y.r.subnet})`,
          "make the ranges disjoint",
        );
      }
    }
  }
  for (const [i, rt] of (c.routes ?? []).entries()) {
    try {
      ipaddr.parseCIDR(rt.dst);
    } catch {
      throw invalidConfig(
        `ipam.routes[${i}].dst "${rt.dst}" is not a CIDR`,
        "write route destinations as e.g. 0.0.0.0/0",
      );
    }
    if (rt.gw !== undefined && !ipaddr.isValid(rt.gw)) {
      throw invalidConfig(
        `ipam.routes[${i}].gw "${rt.gw}" is not an IP address`,
        "write the gateway as an address",
      );
    }
  }
  if (c.dataDir !== undefined && !c.dataDir.startsWith("/")) {
    throw invalidConfig(
      `ipam.dataDir "${c.dataDir}" is not an absolute path`,
      "use an absolute path such as /var/lib/cni/networks",
    );
  }
  return {
    type: c.type,
    rangeSets,
    routes: (c.routes ?? []).map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) })),
    dataDir: c.dataDir ?? defaultDataDir,
    dns: c.dns,
  };
}
