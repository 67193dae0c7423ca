import type { Command } from "commander";
import { type BackendDefinition, BackendRegistryError, flagKey } from "../backends/definition.js";
import { checkRegistry } from "../backends/registry.js";

/**
 * The `--backend` option and every backend's flags, generated from a registry: the choices and
 * their order are the registry's, each flag's help names the backends that read it
 * (`bgp backend: hold time`), a flag two backends share is added once, and the help ends with
 * each backend's summary.
 */
export function addBackendFlags(
  cmd: Command,
  registry: readonly BackendDefinition[],
  defaultBackend: string,
): Command {
  checkRegistry(registry);
  if (!registry.some((d) => d.name === defaultBackend))
    throw new BackendRegistryError(`the default backend "${defaultBackend}" is not in the registry`);
  cmd.option("--backend <name>", registry.map((d) => d.name).join(" | "), defaultBackend);
  const width = Math.max(...registry.map((d) => d.name.length));
  cmd.addHelpText(
    "after",
    `\nBackends (--backend):\n${registry.map((d) => `  ${d.name.padEnd(width)}  ${d.summary}`).join("\n")}`,
  );
  const owners = new Map<string, string[]>();
  for (const d of registry)
    for (const f of d.cliFlags) owners.set(flagKey(f.flag), [...(owners.get(flagKey(f.flag)) ?? []), d.name]);
  const added = new Set<string>();
  for (const d of registry) {
    for (const f of d.cliFlags) {
      const key = flagKey(f.flag);
      if (added.has(key)) continue;
      added.add(key);
      const names = owners.get(key) ?? [d.name];
      const help = `${names.join(", ")} backend${names.length > 1 ? "s" : ""}: ${f.help}`;
      if (f.repeatable)
        cmd.option(f.flag, help, (v: string, all: string[]) => [...all, v], [...(f.default ?? [])]);
      else cmd.option(f.flag, help, f.default as string | undefined);
    }
  }
  return cmd;
}
