import type { Datastore } from "../datastore/api.js";
import { NetAttachError } from "./errors.js";
import { type NetworkAttachmentDefinition, parseNad } from "./nad.js";
import { namespaceProblem, objectNameProblem } from "./names.js";

/** Where definitions live: one key per definition, `/strata/net-attach-defs/<namespace>/<name>`. */
export const nadPrefix = "/strata/net-attach-defs/";
export const nadKey = (namespace: string, name: string): string => `${nadPrefix}${namespace}/${name}`;

/** A stored record that is not a valid definition: skipped by `list`, named so it can be fixed. */
export interface InvalidRecord {
  readonly key: string;
  readonly reason: string;
}

function checkNames(namespace: string, name?: string): void {
  const problem = namespaceProblem(namespace) ?? (name === undefined ? undefined : objectNameProblem(name));
  if (problem) throw new NetAttachError("invalid-definition", problem);
}

/**
 * NetworkAttachmentDefinitions in Strata's datastore, as a Kubernetes API server would hold them.
 * Every read validates the record again (anyone with store access could have written it).
 */
export class NadStore {
  constructor(private readonly store: Datastore) {}

  /** Create or replace (`kubectl apply`); returns whether it was new. */
  async apply(nad: NetworkAttachmentDefinition): Promise<"created" | "configured" | "unchanged"> {
    const valid = parseNad(nad);
    const key = nadKey(valid.metadata.namespace, valid.metadata.name);
    const value = JSON.stringify(valid);
    const before = await this.store.get(key);
    if (before?.value === value) return "unchanged";
    await this.store.put(key, value);
    return before ? "configured" : "created";
  }

  async get(namespace: string, name: string): Promise<NetworkAttachmentDefinition | undefined> {
    checkNames(namespace, name);
    const kv = await this.store.get(nadKey(namespace, name));
    return kv ? decodeRecord(kv.key, kv.value, namespace, name) : undefined;
  }

  /** The definition a pod asks for; a missing one says how to create it. */
  async require(namespace: string, name: string): Promise<NetworkAttachmentDefinition> {
    const nad = await this.get(namespace, name);
    if (!nad)
      throw new NetAttachError(
        "not-found",
        `NetworkAttachmentDefinition ${namespace}/${name} does not exist: create it with \`strata net-attach-def apply -f FILE\``,
      );
    return nad;
  }

  /** Definitions of one namespace (or all), sorted; invalid records are reported apart. */
  async list(
    namespace?: string,
  ): Promise<{ items: NetworkAttachmentDefinition[]; invalid: InvalidRecord[] }> {
    if (namespace !== undefined) checkNames(namespace);
    const { items } = await this.store.list(
      namespace === undefined ? nadPrefix : `${nadPrefix}${namespace}/`,
    );
    const out: NetworkAttachmentDefinition[] = [];
    const invalid: InvalidRecord[] = [];
    for (const kv of items) {
      const [ns, name, ...rest] = kv.key.slice(nadPrefix.length).split("/");
      try {
        if (!ns || !name || rest.length > 0)
          throw new NetAttachError("invalid-record", "not <namespace>/<name>");
        out.push(decodeRecord(kv.key, kv.value, ns, name));
      } catch (err) {
        invalid.push({ key: kv.key, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    out.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
    return { items: out, invalid };
  }

  async delete(namespace: string, name: string): Promise<boolean> {
    checkNames(namespace, name);
    return this.store.delete(nadKey(namespace, name));
  }
}

/** A record must be a valid definition and be stored under its own namespace and name. */
function decodeRecord(
  key: string,
  value: string,
  namespace: string,
  name: string,
): NetworkAttachmentDefinition {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new NetAttachError("invalid-record", `${key} is not JSON: re-apply the definition`);
  }
  const nad = parseNad(json, key);
  if (nad.metadata.namespace !== namespace || nad.metadata.name !== name)
    throw new NetAttachError(
      "invalid-record",
      `${key} holds ${nad.metadata.namespace}/${nad.metadata.name}: re-apply the definition`,
    );
  return nad;
}
