import { z } from "zod";
import { StrataError } from "../common/errors.js";
import type { Datastore } from "../datastore/api.js";
import { nodeName } from "./lease-validation.js";

/**
 * The cluster's BGP topology as the operator set it in the datastore (`strata bgp
 * route-reflectors`), read by every agent of the bgp backend; it overrides their
 * `--bgp-route-reflectors` flag while it exists, so the topology changes live, on every node at
 * once, without restarting an agent. An empty list is an explicit full mesh.
 */
export interface ClusterBgpConfig {
  /** Node names that reflect (RFC 4456); empty: full mesh. */
  readonly routeReflectors: readonly string[];
}

export const bgpConfigKey = "/strata/config/bgp";

/** More reflectors than this is a mistake (each one peers with every node). */
export const maxRouteReflectors = 32;

const schema = z
  .object({
    routeReflectors: z
      .array(nodeName)
      .max(maxRouteReflectors, `at most ${maxRouteReflectors} route reflectors`)
      .refine((l) => new Set(l).size === l.length, "names a node twice"),
  })
  .strict();

export class BgpConfigError extends StrataError {
  constructor(message: string) {
    super("bgp-config.invalid", message);
  }
}

/** Pure: a config from the datastore's text, or why it is refused (the datastore is not trusted). */
export function parseBgpConfig(text: string): ClusterBgpConfig | BgpConfigError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new BgpConfigError(`${bgpConfigKey} is not JSON`);
  }
  const r = schema.safeParse(json);
  if (r.success) return { routeReflectors: r.data.routeReflectors };
  const issue = r.error.issues[0];
  return new BgpConfigError(
    `${bgpConfigKey}: ${issue?.path.join(".") || "value"} ${issue?.message ?? "is invalid"}`,
  );
}

/** What an agent reads: a config, none set (the flags apply), or a refused one (the flags apply, and it says why). */
export type BgpConfigView =
  | { readonly kind: "set"; readonly config: ClusterBgpConfig }
  | { readonly kind: "unset" }
  | { readonly kind: "invalid"; readonly error: string };

const viewOf = (text: string | undefined): BgpConfigView => {
  if (text === undefined) return { kind: "unset" };
  const c = parseBgpConfig(text);
  return c instanceof BgpConfigError ? { kind: "invalid", error: c.message } : { kind: "set", config: c };
};

/** The config in the datastore: read, watched, written (by the operator's CLI), removed. */
export class BgpConfigStore {
  constructor(private readonly store: Datastore) {}

  async read(): Promise<BgpConfigView> {
    return viewOf((await this.store.get(bgpConfigKey))?.value);
  }

  /** The view now, then each time it changes, until `signal` aborts. */
  async *watch(signal: AbortSignal): AsyncIterable<BgpConfigView> {
    const snap = await this.store.list(bgpConfigKey);
    let text = snap.items.find((kv) => kv.key === bgpConfigKey)?.value;
    yield viewOf(text);
    for await (const e of this.store.watch(bgpConfigKey, snap.revision, signal)) {
      const before = text;
      if (e.type === "put" && e.kv.key === bgpConfigKey) text = e.kv.value;
      else if (e.type === "delete" && e.key === bgpConfigKey) text = undefined;
      else if (e.type === "resync") text = e.items.find((kv) => kv.key === bgpConfigKey)?.value;
      if (text !== before) yield viewOf(text);
    }
  }

  /** Write it (checked as an agent would check it, so what is written is what agents accept). */
  async write(config: ClusterBgpConfig): Promise<void> {
    const text = JSON.stringify({ routeReflectors: [...config.routeReflectors] });
    const parsed = parseBgpConfig(text);
    if (parsed instanceof BgpConfigError) throw parsed;
    await this.store.put(bgpConfigKey, text);
  }

  /** Remove it: every agent goes back to its flags. */
  async clear(): Promise<boolean> {
    return this.store.delete(bgpConfigKey);
  }
}
