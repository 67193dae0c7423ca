import { z } from "zod";
import type { ConfList } from "../cni/runtime-client.js";
import { supportedVersions } from "../cni/version.js";
import { NetAttachError } from "./errors.js";
import { namespaceProblem, objectNameProblem } from "./names.js";

export const nadApiVersion = "k8s.cni.cncf.io/v1";
export const nadKind = "NetworkAttachmentDefinition";

/**
 * A NetworkAttachmentDefinition in the Kubernetes resource's JSON shape (Multus' CRD,
 * k8s.cni.cncf.io/v1): `spec.config` is the CNI configuration (one plugin or a list) as a JSON
 * string. `metadata.namespace` is always filled in ("default" when the file left it out).
 */
export interface NetworkAttachmentDefinition {
  readonly apiVersion: typeof nadApiVersion;
  readonly kind: typeof nadKind;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec: { readonly config: string };
}

const nadSchema = z.object({
  apiVersion: z.literal(nadApiVersion, { error: `must be "${nadApiVersion}"` }),
  kind: z.literal(nadKind, { error: `must be "${nadKind}"` }),
  metadata: z.looseObject({
    name: z.string({ error: "is required (a string)" }),
    namespace: z.string().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object(
    {
      config: z.string({
        error: "is required: the CNI configuration (one plugin or a list) as a JSON string",
      }),
    },
    { error: "is required" },
  ),
});

const pluginSchema = z.looseObject({ type: z.string().min(1, "must name a plugin type") });
const confSchema = z.looseObject({
  cniVersion: z.enum(supportedVersions, { error: `must be one of ${supportedVersions.join(", ")}` }),
  name: z.string().optional(),
  type: z.string().optional(),
  plugins: z.array(pluginSchema).min(1, "must hold at least one plugin").optional(),
});

const issueText = (where: string, error: z.ZodError) => {
  const issue = error.issues[0];
  return `${[where, ...(issue?.path ?? [])].join(".")} ${issue?.message ?? "is invalid"}`;
};

/**
 * The CNI configuration list a definition stands for: a single plugin becomes a list of one (as
 * libcni's ConfListFromConf does). A config without a `name` takes the definition's name, as
 * Multus does. Throws NetAttachError naming the field.
 */
export function nadConfList(nad: NetworkAttachmentDefinition): ConfList {
  const where = `NetworkAttachmentDefinition ${nad.metadata.namespace}/${nad.metadata.name}: spec.config`;
  let value: unknown;
  try {
    value = JSON.parse(nad.spec.config);
  } catch (err) {
    throw new NetAttachError(
      "invalid-definition",
      `${where} is not JSON (${err instanceof Error ? err.message : String(err)}); write the CNI configuration as a JSON string`,
    );
  }
  const parsed = confSchema.safeParse(value);
  if (!parsed.success) throw new NetAttachError("invalid-definition", issueText(where, parsed.error));
  const conf = parsed.data;
  const name = conf.name ?? nad.metadata.name;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw new NetAttachError(
      "invalid-definition",
      `${where}.name "${name}" is not a network name: use letters, digits, '_', '.', '-'`,
    );
  if (conf.plugins) {
    if (conf.type !== undefined)
      throw new NetAttachError(
        "invalid-definition",
        `${where} has both "type" and "plugins": a list holds its plugins under "plugins" only`,
      );
    return { ...conf, cniVersion: conf.cniVersion, name, plugins: conf.plugins };
  }
  if (conf.type === undefined || conf.type === "")
    throw new NetAttachError(
      "invalid-definition",
      `${where} names no plugin: give it a "type" (one plugin) or "plugins" (a list)`,
    );
  const { cniVersion, name: _n, ...plugin } = conf;
  return { cniVersion, name, plugins: [plugin] };
}

/**
 * Decode a definition from any JSON value (a file, a datastore record: both are data, not
 * trust). Checks the resource shape, the names and that `spec.config` is a usable CNI
 * configuration; fills in the namespace.
 */
export function parseNad(value: unknown, where = "NetworkAttachmentDefinition"): NetworkAttachmentDefinition {
  const parsed = nadSchema.safeParse(value);
  if (!parsed.success) throw new NetAttachError("invalid-definition", issueText(where, parsed.error));
  const { metadata, spec, apiVersion, kind } = parsed.data;
  const namespace = metadata.namespace ?? "default";
  const problem = objectNameProblem(metadata.name) ?? namespaceProblem(namespace);
  if (problem) throw new NetAttachError("invalid-definition", `${where}: metadata: ${problem}`);
  const nad: NetworkAttachmentDefinition = {
    apiVersion,
    kind,
    metadata: {
      name: metadata.name,
      namespace,
      ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
      ...(metadata.labels ? { labels: metadata.labels } : {}),
    },
    spec: { config: spec.config },
  };
  nadConfList(nad);
  return nad;
}
