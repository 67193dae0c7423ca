import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

/**
 * A fake SR-IOV NIC for tests: a generated sysfs tree (the PF's `sriov_numvfs`, `virtfn<N>` links,
 * each VF's PCI directory with `net/<netdev>`, `driver`, `driver_override`; the PCI bus's
 * `drivers_probe` and per-driver `bind`/`unbind`) and a veth pair per VF standing in for the VF's
 * netdev: one end in the node's namespace (as the VF's netdev), the other on a bridge in a
 * "fabric" namespace (standing in for the NIC's embedded switch, so pods on two VFs can talk).
 *
 * What it does not prove: that a real PF driver accepts the `ip link set <pf> vf N ...` commands
 * (they are recorded, not applied), that vfio-pci binds (the writer below moves the `driver`
 * link the way the PCI core would), or how a real VF behaves when its namespace is destroyed
 * (a real netdev returns to the initial namespace; a veth stand-in is destroyed with it).
 */
export interface FakeSriovNic {
  readonly root: string;
  readonly pf: string;
  readonly vfs: readonly {
    readonly index: number;
    readonly pci: string;
    readonly netdev: string;
    readonly dir: string;
  }[];
  /** Every `ip` command the plugin gave the PF, in order. */
  readonly pfLog: string[][];
  /** Every sysfs write, in order. */
  readonly writes: { path: string; value: string }[];
  pfCommand(args: readonly string[]): Promise<void>;
  /** Writes the attribute and acts as the PCI core on it (unbind, drivers_probe with driver_override). */
  writeSysfs(path: string, value: string): Promise<void>;
  driverOf(index: number): string | undefined;
  cleanup(): void;
}

export function generateSriovNic(opts: {
  readonly nodeNs: string;
  readonly fabricNs: string;
  readonly pf?: string;
  readonly vfCount: number;
  readonly driver?: string;
  /** Prefix of the VF netdevs' names (each test's own, so two trees never share a name). */
  readonly netdevPrefix?: string;
}): FakeSriovNic {
  const pf = opts.pf ?? "pf0";
  const driver = opts.driver ?? "iavf";
  const prefix = opts.netdevPrefix ?? `${pf}v`;
  const root = mkdtempSync(join(tmpdir(), "strata-test-sysfs-"));
  const devices = join(root, "bus/pci/devices");
  const drivers = join(root, "bus/pci/drivers");
  for (const d of [driver, "vfio-pci"]) {
    mkdirSync(join(drivers, d), { recursive: true });
    writeFileSync(join(drivers, d, "bind"), "");
    writeFileSync(join(drivers, d, "unbind"), "");
  }
  writeFileSync(join(root, "bus/pci/drivers_probe"), "");
  const pfDir = join(devices, "0000:3b:00.0");
  mkdirSync(join(pfDir, "net", pf), { recursive: true });
  writeFileSync(join(pfDir, "sriov_numvfs"), `${opts.vfCount}\n`);
  writeFileSync(join(pfDir, "sriov_totalvfs"), `${opts.vfCount}\n`);
  mkdirSync(join(root, "class/net", pf), { recursive: true });
  symlinkSync(pfDir, join(root, "class/net", pf, "device"));

  execFileSync("ip", ["-n", opts.fabricNs, "link", "add", "esw", "type", "bridge"]);
  execFileSync("ip", ["-n", opts.fabricNs, "link", "set", "esw", "up"]);
  const vfs = [];
  const originalDriver = new Map<string, string>();
  for (let index = 0; index < opts.vfCount; index++) {
    const pci = `0000:3b:02.${index}`;
    const dir = join(devices, pci);
    const netdev = `${prefix}${index}`;
    mkdirSync(join(dir, "net", netdev), { recursive: true });
    writeFileSync(join(dir, "driver_override"), "(null)\n");
    symlinkSync(join(drivers, driver), join(dir, "driver"));
    symlinkSync(dir, join(pfDir, `virtfn${index}`));
    originalDriver.set(pci, driver);
    const wire = `w${netdev}`.slice(0, 15);
    execFileSync("ip", [
      "-n",
      opts.nodeNs,
      "link",
      "add",
      netdev,
      "type",
      "veth",
      "peer",
      "name",
      wire,
      "netns",
      opts.fabricNs,
    ]);
    execFileSync("ip", ["-n", opts.fabricNs, "link", "set", wire, "master", "esw", "up"]);
    vfs.push({ index, pci, netdev, dir });
  }

  const pfLog: string[][] = [];
  const writes: { path: string; value: string }[] = [];
  const deviceDir = (pci: string) => join(devices, pci.trim());
  return {
    root,
    pf,
    vfs,
    pfLog,
    writes,
    async pfCommand(args) {
      pfLog.push([...args]);
    },
    async writeSysfs(path, value) {
      writes.push({ path, value });
      await writeFile(path, value);
      // The PCI core's part (drivers/pci/pci-driver.c, bus.c).
      if (basename(path) === "unbind") {
        const dir = deviceDir(value);
        rmSync(join(dir, "driver"), { force: true });
        try {
          renameSync(join(dir, "net"), join(dir, "net.unbound")); // its netdev is unregistered
        } catch {
          // no netdev (vfio-pci)
        }
      } else if (path === join(root, "bus/pci/drivers_probe")) {
        const dir = deviceDir(value);
        const override = readFileSync(join(dir, "driver_override"), "utf8").trim();
        const to =
          override && override !== "(null)" ? override : (originalDriver.get(value.trim()) ?? driver);
        try {
          unlinkSync(join(dir, "driver"));
        } catch {
          // unbound
        }
        symlinkSync(join(drivers, to), join(dir, "driver"));
        if (to !== "vfio-pci") {
          try {
            renameSync(join(dir, "net.unbound"), join(dir, "net"));
          } catch {
            // it had none
          }
        }
      }
    },
    driverOf(index) {
      try {
        return basename(
          execFileSync("readlink", [join(devices, `0000:3b:02.${index}`, "driver")], {
            encoding: "utf8",
          }).trim(),
        );
      } catch {
        return undefined;
      }
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
