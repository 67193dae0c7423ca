import { join } from "node:path";
import type { KernelOp, Netns } from "../../kernel/api.js";
import type { VfClaim } from "./claims.js";
import type { SriovConfig } from "./config.js";
import { driversProbePath } from "./sysfs.js";

/**
 * Pure plans of the SR-IOV plugin: the PF commands that configure a VF (`ip link set dev <pf> vf
 * <N> ...`, the PF driver's ndo_set_vf_* calls), the sysfs writes that rebind a VF to vfio-pci and
 * back, and the kernel ops that move a VF's netdev into the pod and back.
 */

/** One write of a sysfs attribute. */
export interface SysfsWrite {
  readonly path: string;
  readonly value: string;
}

/** `ip` arguments that set VF `index`'s MAC, VLAN (always: a VF must not keep an old tag), spoof check and trust. */
export function vfSettingsArgs(pf: string, index: number, c: SriovConfig, mac: string | undefined): string[] {
  return [
    "link",
    "set",
    "dev",
    pf,
    "vf",
    String(index),
    ...(mac ? ["mac", mac] : []),
    "vlan",
    String(c.vlan),
    ...(c.vlan !== 0 ? ["qos", String(c.vlanQoS)] : []),
    ...(c.spoofchk ? ["spoofchk", c.spoofchk] : []),
    ...(c.trust ? ["trust", c.trust] : []),
  ];
}

/**
 * `ip` arguments that give a VF back as it was handed out: its original MAC, untagged, and the
 * kernel defaults for what ADD set (spoof checking on, trust off).
 */
export function vfResetArgs(claim: VfClaim, c: SriovConfig): string[] {
  return [
    "link",
    "set",
    "dev",
    claim.pf,
    "vf",
    String(claim.vfIndex),
    ...(claim.mac ? ["mac", claim.mac] : []),
    "vlan",
    "0",
    ...(c.spoofchk ? ["spoofchk", "on"] : []),
    ...(c.trust ? ["trust", "off"] : []),
  ];
}

/**
 * Bind a VF to vfio-pci (Documentation/driver-api/vfio.rst, "driver_override"): name the driver,
 * unbind the current one, ask the PCI core to probe it again, which now picks vfio-pci.
 */
export function vfioBindWrites(
  sysfsRoot: string,
  vf: { readonly dir: string; readonly pciAddress: string; readonly driver?: string },
): SysfsWrite[] {
  return [
    { path: join(vf.dir, "driver_override"), value: "vfio-pci" },
    ...(vf.driver ? [{ path: join(vf.dir, "driver/unbind"), value: vf.pciAddress }] : []),
    { path: driversProbePath(sysfsRoot), value: vf.pciAddress },
  ];
}

/** The reverse: unbind vfio-pci, clear the override (a newline), probe: the original driver takes it. */
export function vfioUnbindWrites(
  sysfsRoot: string,
  vf: { readonly dir: string; readonly pciAddress: string },
): SysfsWrite[] {
  return [
    { path: join(vf.dir, "driver/unbind"), value: vf.pciAddress },
    { path: join(vf.dir, "driver_override"), value: "\n" },
    { path: driversProbePath(sysfsRoot), value: vf.pciAddress },
  ];
}

/**
 * The VF's netdev into the pod: down and moved in the node's namespace, then renamed to
 * CNI_IFNAME (with the configured MAC and MTU) inside the pod. Addresses follow from IPAM.
 */
export function netdevIntoPod(
  netdev: string,
  ifName: string,
  podNetns: Netns,
  settings: { readonly mac?: string; readonly mtu?: number },
): { readonly node: KernelOp[]; readonly pod: KernelOp[] } {
  return {
    node: [{ op: "link.set", name: netdev, up: false, netns: podNetns }],
    pod: [
      {
        op: "link.set",
        name: netdev,
        rename: ifName,
        ...(settings.mac ? { mac: settings.mac } : {}),
        ...(settings.mtu !== undefined ? { mtu: settings.mtu } : {}),
      },
    ],
  };
}

/** The netdev back to the node: renamed to its original name, its MAC restored, moved. */
export function netdevBackToNode(podName: string, claim: VfClaim, nodeNetns: Netns): KernelOp[] {
  return [
    {
      op: "link.set",
      name: podName,
      up: false,
      ...(claim.netdev && claim.netdev !== podName ? { rename: claim.netdev } : {}),
      ...(claim.mac ? { mac: claim.mac } : {}),
      netns: nodeNetns,
    },
  ];
}
