import { z } from "zod";
import { invalidConfig } from "../../cni/errors.js";
import {
  type IpamSection,
  interfaceName,
  mtuSetting,
  optionalIpamSection,
  parsePluginConfig,
  unicastMac,
} from "../toolkit/config-schema.js";

/**
 * Configuration of `strata-sriov`. The keys follow sriov-cni's where they mean the same (vlan,
 * vlanQoS, spoofchk, trust, mac, ipam); Strata picks the VF itself from the PF (`master`) rather
 * than taking a device plugin's `deviceID`.
 */
export interface SriovConfig {
  /** The physical function's netdev on the node ("ens1f0"). */
  readonly master: string;
  /**
   * netdevice: the VF's netdev moves into the pod; vfio-pci: the VF is bound to vfio-pci for a
   * DPDK application and no netdev moves (the result names the VF's PCI address).
   */
  readonly deviceType: "netdevice" | "vfio-pci";
  /** Where sysfs is mounted (a generated tree in tests). */
  readonly sysfsRoot: string;
  /** Where VF claims are kept, one file per claimed VF. */
  readonly dataDir: string;
  /** 802.1Q VLAN the PF tags the VF's traffic with; 0: none (set on every ADD, reset on DEL). */
  readonly vlan: number;
  readonly vlanQoS: number;
  readonly mac?: string;
  /** Source MAC spoof checking by the PF ("on"/"off"); unset: left as the PF has it. */
  readonly spoofchk?: "on" | "off";
  /** Trusted VF (may change its MAC, go promiscuous); unset: left as the PF has it. */
  readonly trust?: "on" | "off";
  readonly mtu?: number;
  readonly ipam?: IpamSection;
}

const onOff = z.enum(["on", "off"], { error: 'must be "on" or "off"' });

const schema = z
  .object({
    master: interfaceName.optional(),
    deviceType: z
      .enum(["netdevice", "vfio-pci"], { error: 'must be "netdevice" or "vfio-pci"' })
      .default("netdevice"),
    sysfsRoot: z.string().startsWith("/", "must be an absolute path").default("/sys"),
    dataDir: z.string().startsWith("/", "must be an absolute path").default("/var/lib/cni/strata-sriov"),
    vlan: z
      .number()
      .int("must be a whole number")
      .min(0, "must be 0-4094")
      .max(4094, "must be 0-4094")
      .default(0),
    vlanQoS: z.number().int("must be a whole number").min(0, "must be 0-7").max(7, "must be 0-7").default(0),
    mac: unicastMac.optional(),
    spoofchk: onOff.optional(),
    trust: onOff.optional(),
    mtu: mtuSetting.optional(),
    ipam: optionalIpamSection,
  })
  .loose();

const hints = {
  master: 'set "master" to the PF\'s netdev name (the NIC with sriov_numvfs > 0), e.g. "ens1f0"',
  deviceType: 'set "deviceType" to "netdevice" (kernel netdev in the pod) or "vfio-pci" (DPDK)',
  sysfsRoot: 'leave "sysfsRoot" out (it is "/sys"), or give an absolute path',
  dataDir: 'give "dataDir" as an absolute path, or leave it out',
  vlan: 'set "vlan" to 0 (untagged) .. 4094',
  vlanQoS: 'set "vlanQoS" to 0..7, with a "vlan" other than 0',
  mac: 'set "mac" to a unicast MAC such as "02:00:00:00:00:01", or leave it out',
  spoofchk: 'set "spoofchk" to "on" or "off"',
  trust: 'set "trust" to "on" or "off"',
  mtu: "set mtu to at most the PF's MTU (68-65535), or leave it out",
  ipam: 'write "ipam": {"type": "strata-ipam", "ranges": [[{"subnet": "10.72.0.0/24"}]]}, or {} for no addresses',
};

export function parseSriovConfig(raw: Readonly<Record<string, unknown>>): SriovConfig {
  const c = parsePluginConfig("strata-sriov", schema, raw, hints);
  if (!c.master) {
    throw parseError("master is required", hints.master);
  }
  if (c.vlanQoS !== 0 && c.vlan === 0) throw parseError("vlanQoS needs a vlan", hints.vlanQoS);
  if (c.deviceType === "vfio-pci") {
    // A VF bound to vfio-pci has no netdev: nothing in the pod could hold an address or an MTU.
    if (c.ipam)
      throw parseError(
        'ipam is not possible with "deviceType": "vfio-pci"',
        'remove "ipam": the DPDK application addresses the VF itself',
      );
    if (c.mtu !== undefined)
      throw parseError('mtu is not possible with "deviceType": "vfio-pci"', 'remove "mtu"');
  }
  return { ...c, master: c.master };
}

function parseError(msg: string, hint: string) {
  return invalidConfig(`invalid strata-sriov configuration: ${msg}`, hint);
}
