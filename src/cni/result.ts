import { z } from "zod";
import { CniError, CniErrorCode } from "./errors.js";
import { atLeast } from "./version.js";

/** The result of ADD in the 1.x format (the form Strata uses internally). */
export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** Path of the network namespace for container-side interfaces; absent for host-side ones. */
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
export interface CniIpConfig {
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

const interfaceSchema = z.looseObject({
  name: z.string(),
  mac: z.string().optional(),
  mtu: z.number().int().optional(),
  sandbox: z.string().optional(),
  socketPath: z.string().optional(),
  pciID: z.string().optional(),
});
const ipSchema = z.looseObject({
  address: z.string(),
  gateway: z.string().optional(),
  interface: z.number().int().nonnegative().optional(),
  // 0.3.x / 0.4.0 carry "version": "4" | "6"; accepted and dropped.
  version: z.enum(["4", "6"]).optional(),
});
const routeSchema = z.looseObject({
  dst: z.string(),
  gw: z.string().optional(),
  mtu: z.number().int().optional(),
  advmss: z.number().int().optional(),
  priority: z.number().int().optional(),
  table: z.number().int().optional(),
  scope: z.number().int().optional(),
});
const dnsSchema = z.looseObject({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});
export const resultSchema = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z.array(interfaceSchema).optional(),
  ips: z.array(ipSchema).optional(),
  routes: z.array(routeSchema).optional(),
  dns: dnsSchema.optional(),
});

/** Parse a result of any supported version (e.g. a prevResult) into the 1.x form. */
export function parseResult(value: unknown, where = "prevResult"): CniResult {
  const parsed = resultSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CniError(
      CniErrorCode.DecodingFailure,
      `${where} is not a CNI result`,
      `${issue?.path.join(".") || where}: ${issue?.message ?? "invalid"}`,
    );
  }
  const r = parsed.data;
  const out: CniResult = { cniVersion: r.cniVersion ?? "1.1.0" };
  if (r.interfaces) out.interfaces = r.interfaces.map((i) => ({ ...i }));
  if (r.ips) out.ips = r.ips.map(({ version: _v, ...ip }) => ({ ...ip }));
  if (r.routes) out.routes = r.routes.map((rt) => ({ ...rt }));
  if (r.dns) out.dns = { ...r.dns };
  return out;
}

const isV6 = (cidr: string) => cidr.includes(":");

/**
 * Render a result in the version the runtime asked for. 0.3.x/0.4.0 need `version` on each IP;
 * 1.0.0 drops it; route fields added in 1.1.0 (mtu, advmss, priority, table, scope) are dropped for
 * older versions because older runtimes reject unknown route keys in strict decoders.
 */
export function convertResult(result: CniResult, version: string): Record<string, unknown> {
  const modern = atLeast(version, "1.0.0");
  const v11 = atLeast(version, "1.1.0");
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces) out.interfaces = result.interfaces;
  if (result.ips) {
    out.ips = result.ips.map((ip) => (modern ? ip : { version: isV6(ip.address) ? "6" : "4", ...ip }));
  }
  if (result.routes) {
    out.routes = result.routes.map((r) =>
      v11 ? r : { dst: r.dst, ...(r.gw !== undefined ? { gw: r.gw } : {}) },
    );
  }
  out.dns = result.dns ?? {};
  return out;
}
