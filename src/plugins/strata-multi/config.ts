import { readFileSync } from "node:fs";
import { z } from "zod";
import { invalidConfig } from "../../cni/errors.js";
import type { ConfList } from "../../cni/runtime-client.js";
import { supportedVersions } from "../../cni/version.js";

/**
 * The meta plugin's own configuration (the node's conflist entry, as Multus' 00-multus.conf):
 * where the cluster network is, where the definitions and pod annotations are, where to keep
 * what ADD attached for DEL.
 */
export interface MultiConfig {
  /** `embedded:<socket>` or `etcd:<endpoints>`: NetworkAttachmentDefinitions and pod annotations. */
  readonly datastore: string;
  readonly etcdTls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** The cluster network, attached as eth0 (CNI_IFNAME). */
  readonly clusterNetwork: ConfList;
  /** This node's name: recorded by cluster IPAM delegates (passed as CNI_ARGS STRATA_NODE_NAME). */
  readonly nodeName?: string;
  /** One file per container: what ADD attached, so DEL undoes exactly that. */
  readonly cacheDir: string;
}

export const defaultCacheDir = "/var/lib/cni/strata-multi";

const plugin = z.looseObject({ type: z.string().min(1, "must name a plugin type") });
const netConf = z.looseObject({
  cniVersion: z.enum(supportedVersions, { error: `must be one of ${supportedVersions.join(", ")}` }),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a network name"),
  type: z.string().optional(),
  plugins: z.array(plugin).min(1, "must hold at least one plugin").optional(),
});
const schema = z.looseObject({
  datastore: z.string({ error: 'is required: "embedded:<socket path>" or "etcd:<https://host:2379,...>"' }),
  etcdCa: z.string().optional(),
  etcdCert: z.string().optional(),
  etcdKey: z.string().optional(),
  clusterNetwork: z.union([z.string(), z.record(z.string(), z.unknown())], {
    error: "is required: the cluster network's configuration (list), inline or as an absolute file path",
  }),
  nodeName: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, "must be a node name")
    .optional(),
  cacheDir: z.string().startsWith("/", "must be an absolute path").optional(),
});

/** A configuration or list as a list (libcni's ConfListFromConf). */
function asConfList(value: unknown, where: string): ConfList {
  const parsed = netConf.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = [where, ...(issue?.path ?? [])].join(".");
    throw invalidConfig(
      `${at} ${issue?.message ?? "is invalid"}`,
      "give the cluster network a CNI configuration or list",
    );
  }
  const { cniVersion, name, plugins, ...single } = parsed.data;
  if (plugins) return { cniVersion, name, plugins };
  if (!single.type) throw invalidConfig(`${where} names no plugin`, 'give it a "type" or "plugins"');
  return { cniVersion, name, plugins: [single] };
}

export function parseMultiConfig(raw: Readonly<Record<string, unknown>>): MultiConfig {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = (issue?.path ?? []).join(".");
    throw invalidConfig(
      `${at} ${issue?.message ?? "is invalid"}`,
      `fix "${at}" in the strata-multi configuration`,
    );
  }
  const c = parsed.data;
  if (!/^(embedded:.+|etcd:.+)$/.test(c.datastore))
    throw invalidConfig(
      `datastore "${c.datastore}" is not embedded:<socket path> or etcd:<endpoints>`,
      "point it at the cluster's datastore",
    );
  let cluster: unknown = c.clusterNetwork;
  if (typeof cluster === "string") {
    if (!cluster.startsWith("/"))
      throw invalidConfig(
        `clusterNetwork "${cluster}" is not an absolute path`,
        "name the file, e.g. /etc/cni/net.d/10-strata.conflist",
      );
    try {
      cluster = JSON.parse(readFileSync(cluster, "utf8"));
    } catch (err) {
      throw invalidConfig(
        `clusterNetwork ${c.clusterNetwork}: cannot read it as JSON`,
        err instanceof Error ? err.message : String(err),
      );
    }
  }
  return {
    datastore: c.datastore,
    etcdTls: { ca: c.etcdCa, cert: c.etcdCert, key: c.etcdKey },
    clusterNetwork: asConfList(cluster, "clusterNetwork"),
    ...(c.nodeName ? { nodeName: c.nodeName } : {}),
    cacheDir: c.cacheDir ?? defaultCacheDir,
  };
}
