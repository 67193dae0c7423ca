import ipaddr from "ipaddr.js";
import { z } from "zod";
import { invalidConfig } from "../cni/errors.js";
import { parseIp } from "./address.js";
import { type IpamConfig, parseIpamConfig } from "./config.js";

/** An excluded span of addresses (one address is a /32 or /128). */
export interface Exclusion {
  readonly text: string;
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * `strata-cluster-ipam`'s section: host-local's `ranges`/`routes`/`dns` (one address per range
 * set), plus where the cluster's allocations live and what to leave out.
 */
export interface ClusterIpamConfig extends IpamConfig {
  /** `embedded:<socket>` or `etcd:<endpoints>`: the store every node allocates from. */
  readonly datastore: string;
  readonly etcdTls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  readonly exclude: readonly Exclusion[];
  /** The node this plugin runs on, recorded with each allocation (GC frees by node). */
  readonly nodeName?: string;
}

const clusterKeys = z.looseObject({
  datastore: z.string({ error: 'is required: "embedded:<socket path>" or "etcd:<https://host:2379,...>"' }),
  etcdCa: z.string().optional(),
  etcdCert: z.string().optional(),
  etcdKey: z.string().optional(),
  exclude: z.array(z.string()).optional(),
  nodeName: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, "must be a node name")
    .optional(),
});

function parseExclusion(text: string, i: number): Exclusion {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    [addr, prefix] = text.includes("/") ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), -1];
  } catch {
    throw invalidConfig(
      `ipam.exclude[${i}] "${text}" is not an address or CIDR`,
      "write exclusions as e.g. 10.60.0.0/28 or 10.60.0.100",
    );
  }
  const family = addr.kind() === "ipv4" ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  const host = BigInt(bits - (prefix < 0 ? bits : prefix));
  const value = parseIp(addr.toString()).value;
  const first = (value >> host) << host;
  return { text, family, first, last: first + (1n << host) - 1n };
}

/** Decode `ipam`; a bad value is CniError 7 naming the key. */
export function parseClusterIpamConfig(raw: unknown): ClusterIpamConfig {
  const base = parseIpamConfig(raw);
  const parsed = clusterKeys.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = ["ipam", ...(issue?.path ?? [])].join(".");
    throw invalidConfig(
      `invalid ipam configuration: ${where} ${issue?.message ?? "is invalid"}`,
      `fix ${where}`,
    );
  }
  const c = parsed.data;
  if (!/^(embedded:.+|etcd:.+)$/.test(c.datastore))
    throw invalidConfig(
      `ipam.datastore "${c.datastore}" is not embedded:<socket path> or etcd:<endpoints>`,
      "point it at the cluster's datastore, the one the agents use",
    );
  return {
    ...base,
    datastore: c.datastore,
    etcdTls: { ca: c.etcdCa, cert: c.etcdCert, key: c.etcdKey },
    exclude: (c.exclude ?? []).map(parseExclusion),
    ...(c.nodeName ? { nodeName: c.nodeName } : {}),
  };
}
