import { z } from "zod";
import { invalidConfig } from "../../cni/errors.js";

/** Configuration of the `strata` plugin (the fields beside the spec's cniVersion/name/type). */
export interface StrataConfig {
  /** bridge: pods on a node bridge (Flannel's cni0); routed: /32 per pod, host routes, proxy ARP (Calico). */
  readonly mode: "bridge" | "routed";
  readonly bridge: string;
  /** Give the bridge the gateway address of each IPAM range (bridge mode). */
  readonly isGateway: boolean;
  /** Install a default route in the pod via the gateway. */
  readonly isDefaultGateway: boolean;
  readonly mtu?: number;
  /** Host-side veth names are this prefix plus a hash of container id and ifname (≤ 15 chars). */
  readonly vethPrefix: string;
  /**
   * Drop packets a pod sends from an address that is not its own (nftables in the node's
   * namespace, source-guard-plan.ts). On by default; off only for pods that must route for others.
   */
  readonly antiSpoofing: boolean;
  readonly ipam: Readonly<Record<string, unknown>> & { readonly type: string };
}

const ifNamePattern = /^[^/:\s]{1,15}$/;

const schema = z
  .object({
    mode: z.enum(["bridge", "routed"]).default("bridge"),
    bridge: z.string().regex(ifNamePattern, "must be an interface name of 1-15 characters").default("cni0"),
    isGateway: z.boolean().default(true),
    isDefaultGateway: z.boolean().default(true),
    mtu: z.number().int().min(576, "must be at least 576").max(65535, "must be at most 65535").optional(),
    vethPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,6}$/, "must be 1-7 lowercase letters/digits starting with a letter")
      .default("veth"),
    antiSpoofing: z.boolean().default(true),
    ipam: z.looseObject(
      { type: z.string().min(1, 'needs a "type"') },
      { error: 'an "ipam" section is required' },
    ),
  })
  .loose();

export function parseStrataConfig(raw: Readonly<Record<string, unknown>>): StrataConfig {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "config";
    throw invalidConfig(
      `invalid strata configuration: ${where} ${issue?.message ?? "is invalid"}`,
      fixHint(where),
    );
  }
  const c = parsed.data;
  return {
    mode: c.mode,
    bridge: c.bridge,
    isGateway: c.isGateway,
    isDefaultGateway: c.isDefaultGateway,
    mtu: c.mtu,
    vethPrefix: c.vethPrefix,
    antiSpoofing: c.antiSpoofing,
    ipam: c.ipam as StrataConfig["ipam"],
  };
}

function fixHint(field: string): string {
  switch (field) {
    case "mode":
      return 'set "mode" to "bridge" or "routed"';
    case "ipam":
    case "ipam.type":
      return 'add "ipam": {"type": "strata-ipam", "ranges": [[{"subnet": "10.22.0.0/16"}]]}';
    case "mtu":
      return "set mtu to the underlay MTU minus any encapsulation overhead (576-65535)";
    default:
      return `fix "${field}" in the network configuration`;
  }
}
