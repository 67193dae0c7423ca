import { z } from "zod";
import { invalidConfig } from "../../cni/errors.js";

/**
 * Pieces of a plugin's configuration schema that several plugins share, and the one way a zod
 * failure becomes the spec's code 7 naming the key and what to write there.
 */

/** A Linux interface name: 1-15 characters, no '/', ':' or whitespace. */
export const interfaceName = z
  .string()
  .regex(/^[^/:\s]{1,15}$/, "must be an interface name of 1-15 characters");

export const mtuSetting = z
  .number()
  .int("must be a whole number")
  .min(68, "must be at least 68")
  .max(65535, "must be at most 65535");

/** A unicast MAC in "aa:bb:cc:dd:ee:ff" form (the group bit clear). */
export const unicastMac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address like "02:00:00:00:00:01"')
  .refine((m) => (Number.parseInt(m.slice(0, 2), 16) & 1) === 0, "must be a unicast MAC (first octet even)")
  .transform((m) => m.toLowerCase());

/**
 * An optional `ipam` section: `{type, ...}` is passed on to that IPAM plugin; absent or `{}` means
 * no addresses (an L2-only attachment, as the reference plugins allow).
 */
export const optionalIpamSection = z
  .looseObject({ type: z.string().min(1, 'needs a "type", e.g. "strata-ipam"').optional() })
  .optional()
  .transform((s) =>
    s?.type ? (s as Readonly<Record<string, unknown>> & { readonly type: string }) : undefined,
  );

export type IpamSection = Readonly<Record<string, unknown>> & { readonly type: string };

/**
 * Parse `raw` with `schema`; the first problem is a CniError (code 7) "invalid <type>
 * configuration: <key> <what is wrong>", its details the hint for that key (or a generic one).
 */
export function parsePluginConfig<T>(
  type: string,
  schema: z.ZodType<T>,
  raw: unknown,
  hints: Readonly<Record<string, string>>,
): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join(".") || "config";
  throw invalidConfig(
    `invalid ${type} configuration: ${where} ${issue?.message ?? "is invalid"}`,
    hints[where] ?? hints[where.split(".")[0] ?? ""] ?? `fix "${where}" in the network configuration`,
  );
}
