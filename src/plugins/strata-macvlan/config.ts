import { z } from "zod";
import {
  type IpamSection,
  interfaceName,
  mtuSetting,
  optionalIpamSection,
  parsePluginConfig,
  unicastMac,
} from "../toolkit/config-schema.js";

export const macvlanModes = ["bridge", "private", "vepa", "passthru"] as const;
export type MacvlanMode = (typeof macvlanModes)[number];

/**
 * Configuration of `strata-macvlan`: the reference `macvlan` plugin's keys (master, mode, mtu,
 * ipam), so a configuration written for one works with the other.
 */
export interface MacvlanConfig {
  /** The node interface; undefined: the interface of the node's default route. */
  readonly master?: string;
  /**
   * bridge: siblings on one master talk directly; private: they never do; vepa: through the
   * external switch only (it must hairpin); passthru: the pod owns the master (one per master).
   */
  readonly mode: MacvlanMode;
  /** At most the master's MTU; absent: the master's. */
  readonly mtu?: number;
  /** A fixed MAC for the pod interface (runtimeConfig.mac, when the runtime sends one, wins). */
  readonly mac?: string;
  /** Absent or {}: no addresses (an L2-only attachment). */
  readonly ipam?: IpamSection;
}

const schema = z
  .object({
    master: interfaceName.optional(),
    mode: z.enum(macvlanModes, { error: `must be one of ${macvlanModes.join(", ")}` }).default("bridge"),
    mtu: mtuSetting.optional(),
    mac: unicastMac.optional(),
    ipam: optionalIpamSection,
  })
  .loose();

const hints = {
  master: 'set "master" to a node interface (e.g. "eth1"), or leave it out to use the default route\'s',
  mode: 'set "mode" to "bridge", "private", "vepa" or "passthru"',
  mtu: "set mtu to at most the master's MTU (68-65535), or leave it out",
  mac: 'set "mac" to a unicast MAC such as "02:00:00:00:00:01", or leave it out',
  ipam: 'write "ipam": {"type": "strata-ipam", "ranges": [[{"subnet": "10.70.0.0/24"}]]}, or {} for no addresses',
};

export function parseMacvlanConfig(raw: Readonly<Record<string, unknown>>): MacvlanConfig {
  const c = parsePluginConfig("strata-macvlan", schema, raw, hints);
  return { master: c.master, mode: c.mode, mtu: c.mtu, mac: c.mac, ipam: c.ipam };
}
