import { invalidConfig } from "../cni/errors.js";

/**
 * The static addresses an attachment asks for, from the same places host-local reads them:
 * runtimeConfig `ips` (the "ips" capability, e.g. ["10.22.0.5/24"]) and CNI_ARGS `IP=a,b`.
 * Prefix lengths are allowed and ignored; each range set's subnet decides the prefix.
 */
export function requestedStaticIps(
  runtimeConfig: Readonly<Record<string, unknown>>,
  cniArgs: Readonly<Record<string, string>>,
): string[] {
  const fromRuntime = runtimeConfig.ips ?? [];
  if (!Array.isArray(fromRuntime) || !fromRuntime.every((x) => typeof x === "string")) {
    throw invalidConfig(
      "runtimeConfig.ips must be a list of addresses",
      'the runtime passes the "ips" capability as e.g. ["10.22.0.5/24"]',
    );
  }
  const fromArgs = (cniArgs.IP ?? "").split(",").filter((s) => s !== "");
  return [...new Set([...(fromRuntime as string[]), ...fromArgs])];
}
