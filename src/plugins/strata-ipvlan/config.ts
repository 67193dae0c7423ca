import { z } from "zod";
import {
  type IpamSection,
  interfaceName,
  mtuSetting,
  optionalIpamSection,
  parsePluginConfig,
} from "../toolkit/config-schema.js";

export const ipvlanModes = ["l2", "l3", "l3s"] as const;
export type IpvlanMode = (typeof ipvlanModes)[number];

/** Configuration of `strata-ipvlan`: the reference `ipvlan` plugin's keys (master, mode, mtu, ipam). */
export interface IpvlanConfig {
  /** The node interface; undefined: the interface of the node's default route. */
  readonly master?: string;
  /**
   * l2: the pods share the master's MAC and answer ARP on its segment; l3: the master routes for
   * them (no ARP, no broadcast; the upstream needs routes to the pods); l3s: l3 with the node's
   * netfilter (conntrack) seeing the pods' traffic.
   */
  readonly mode: IpvlanMode;
  readonly mtu?: number;
  readonly ipam?: IpamSection;
}

const schema = z
  .object({
    master: interfaceName.optional(),
    mode: z.enum(ipvlanModes, { error: `must be one of ${ipvlanModes.join(", ")}` }).default("l2"),
    mtu: mtuSetting.optional(),
    ipam: optionalIpamSection,
  })
  .loose();

const hints = {
  master: 'set "master" to a node interface (e.g. "eth1"), or leave it out to use the default route\'s',
  mode: 'set "mode" to "l2", "l3" or "l3s"',
  mtu: "set mtu to at most the master's MTU (68-65535), or leave it out",
  ipam: 'write "ipam": {"type": "strata-ipam", "ranges": [[{"subnet": "10.71.0.0/24"}]]}, or {} for no addresses',
};

export function parseIpvlanConfig(raw: Readonly<Record<string, unknown>>): IpvlanConfig {
  const c = parsePluginConfig("strata-ipvlan", schema, raw, hints);
  return { master: c.master, mode: c.mode, mtu: c.mtu, ipam: c.ipam };
}
