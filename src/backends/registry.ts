import { bgpDefinition } from "./bgp/bgp-definition.js";
import { type BackendDefinition, BackendRegistryError, flagKey } from "./definition.js";
import { hostGwDefinition } from "./host-gw/host-gw-definition.js";
import { sleeveDefinition } from "./sleeve/sleeve-definition.js";
import {
  greCrossSubnetDefinition,
  greDefinition,
  ipipCrossSubnetDefinition,
  ipipDefinition,
} from "./tunnel/tunnel-definitions.js";
import { vxlanCrossSubnetDefinition, vxlanDefinition } from "./vxlan/vxlan-definitions.js";
import { wireguardDefinition } from "./wireguard/wireguard-definition.js";

/**
 * Every backend Strata has, listed explicitly here (no backend registers itself when imported).
 * The agent's `--backend` choices, each backend's flags and help, the agent wiring and the lab's
 * `--model` list are all read from this array: a new backend is its folder and one line here.
 */
export const backendRegistry = [
  hostGwDefinition,
  vxlanDefinition,
  vxlanCrossSubnetDefinition,
  bgpDefinition,
  ipipDefinition,
  ipipCrossSubnetDefinition,
  greDefinition,
  greCrossSubnetDefinition,
  wireguardDefinition,
  sleeveDefinition,
] as const satisfies readonly BackendDefinition[];

export type BackendName = (typeof backendRegistry)[number]["name"];

/** The agent's backend (and the lab's model) when none is named. */
export const defaultBackend: BackendName = "vxlan";

export const backendNames: readonly BackendName[] = backendRegistry.map((b) => b.name);

/** The backends that route IPv6 pod subnets too (dual stack). */
export const dualStackBackends: readonly BackendName[] = backendRegistry
  .filter((b: BackendDefinition) => b.dualStack === true)
  .map((b) => b.name);

/** The definition named `name`, or undefined. */
export function findBackend<D extends BackendDefinition>(
  registry: readonly D[],
  name: string,
): D | undefined {
  return registry.find((d) => d.name === name);
}

/**
 * Pure: checks a registry before a CLI is built from it: names unique and usable as flag values,
 * and a flag two backends share (vxlan and vxlan-crosssubnet's `--vni`) means the same to both.
 * Throws a BackendRegistryError naming the backends and the flag.
 */
export function checkRegistry(registry: readonly BackendDefinition[]): void {
  const names = new Set<string>();
  const flags = new Map<string, { owner: string; same: string }>();
  for (const d of registry) {
    if (!/^[a-z][a-z0-9-]*$/.test(d.name))
      throw new BackendRegistryError(`backend name "${d.name}" is not lowercase letters, digits and '-'`);
    if (names.has(d.name)) throw new BackendRegistryError(`two backends are named "${d.name}"`);
    names.add(d.name);
    for (const f of d.cliFlags) {
      if (!f.flag.startsWith("--"))
        throw new BackendRegistryError(`${d.name}: flag "${f.flag}" is not a long flag (--name)`);
      if (Array.isArray(f.default) !== Boolean(f.repeatable) && f.default !== undefined)
        throw new BackendRegistryError(
          `${d.name}: ${f.flag} has ${f.repeatable ? "a repeatable flag's default that is not a list" : "a list as default but is not repeatable"}`,
        );
      const key = flagKey(f.flag);
      const same = JSON.stringify([f.flag, f.help, f.default, f.repeatable ?? false]);
      const seen = flags.get(key);
      if (seen && seen.same !== same)
        throw new BackendRegistryError(
          `backends ${seen.owner} and ${d.name} both define ${f.flag.split(/\s/)[0]} differently; share one definition or rename one`,
        );
      if (!seen) flags.set(key, { owner: d.name, same });
    }
  }
}
