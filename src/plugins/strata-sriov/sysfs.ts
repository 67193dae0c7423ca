import { readdir, readFile, readlink, realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import { CniError, CniErrorCode, invalidConfig } from "../../cni/errors.js";

/**
 * What sysfs says about a PF's virtual functions (Documentation/PCI/pci-iov-howto.rst and
 * ABI/testing/sysfs-bus-pci): `class/net/<pf>/device` is the PF's PCI device; its
 * `sriov_numvfs` how many VFs are enabled; `virtfn<N>` links to VF N's PCI device, whose `net/`
 * holds its netdev (when a netdev driver is bound) and whose `driver` links to that driver.
 */
export interface VirtualFunction {
  readonly index: number;
  /** PCI address, "0000:03:02.0". */
  readonly pciAddress: string;
  /** The VF's PCI device directory. */
  readonly dir: string;
  /** Its netdev in this namespace's sysfs (none when bound to vfio-pci or moved away). */
  readonly netdevs: readonly string[];
  /** Bound driver ("iavf", "mlx5_core", "vfio-pci"), or undefined. */
  readonly driver?: string;
}

export const pfDeviceDir = (sysfsRoot: string, pf: string) => join(sysfsRoot, "class/net", pf, "device");
export const driversProbePath = (sysfsRoot: string) => join(sysfsRoot, "bus/pci/drivers_probe");

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

export async function boundDriver(vfDir: string): Promise<string | undefined> {
  try {
    return basename(await readlink(join(vfDir, "driver")));
  } catch {
    return undefined;
  }
}

export async function vfNetdevs(vfDir: string): Promise<string[]> {
  try {
    return (await readdir(join(vfDir, "net"))).sort();
  } catch {
    return [];
  }
}

/**
 * The VFs of `pf`, by index. A PF missing from sysfs, or with no VF enabled, is code 7: the
 * configuration names a device that cannot serve (with the command that enables VFs).
 */
export async function listVirtualFunctions(sysfsRoot: string, pf: string): Promise<VirtualFunction[]> {
  const device = pfDeviceDir(sysfsRoot, pf);
  const numvfs = await readTrimmed(join(device, "sriov_numvfs"));
  if (numvfs === undefined) {
    throw invalidConfig(
      `PF ${pf} is not an SR-IOV device in ${sysfsRoot} (no ${join(device, "sriov_numvfs")})`,
      'set "master" to the netdev of an SR-IOV capable NIC',
    );
  }
  const count = Number(numvfs);
  if (!Number.isInteger(count) || count <= 0) {
    throw invalidConfig(
      `PF ${pf} has no virtual functions enabled (sriov_numvfs is ${numvfs})`,
      `enable them on the node: echo N > ${join(device, "sriov_numvfs")}`,
    );
  }
  const vfs: VirtualFunction[] = [];
  for (let index = 0; index < count; index++) {
    let dir: string;
    try {
      dir = await realpath(join(device, `virtfn${index}`));
    } catch {
      continue; // a VF the kernel has not created (yet): never offered
    }
    vfs.push({
      index,
      pciAddress: basename(dir),
      dir,
      netdevs: await vfNetdevs(dir),
      driver: await boundDriver(dir),
    });
  }
  return vfs;
}

/** Every VF claimed: code 11, a VF frees up when one of this PF's pods is deleted. */
export function noFreeVf(pf: string, total: number): CniError {
  return new CniError(
    CniErrorCode.TryAgainLater,
    `no free virtual function on PF ${pf} (${total} enabled, all claimed)`,
    "delete a pod using this network, or enable more VFs (sriov_numvfs)",
  );
}
