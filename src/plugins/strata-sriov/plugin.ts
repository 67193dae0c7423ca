import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DelegateOptions } from "../../cni/delegate.js";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniResult } from "../../cni/result.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import { UndoStack } from "../../common/undo-stack.js";
import { currentNetns, type Kernel, type Netns, netnsAtPath } from "../../kernel/api.js";
import { KernelError } from "../../kernel/errors.js";
import { checkPodInterface, requirePrevResult, stateMismatch } from "../toolkit/check.js";
import { childLinkPodOps } from "../toolkit/child-link-plugin.js";
import { allocatedAddresses, type Ipam, ipamDelegate } from "../toolkit/ipam.js";
import { addFailure, kernelToCni } from "../toolkit/kernel-errors.js";
import { podNetnsForAdd } from "../toolkit/pod-netns.js";
import { runtimeMac } from "../toolkit/runtime-config.js";
import { claimedIndexes, claimOf, readClaims, releaseClaim, tryClaim, type VfClaim } from "./claims.js";
import { parseSriovConfig, type SriovConfig } from "./config.js";
import {
  netdevBackToNode,
  netdevIntoPod,
  type SysfsWrite,
  vfioBindWrites,
  vfioUnbindWrites,
  vfResetArgs,
  vfSettingsArgs,
} from "./plan.js";
import {
  boundDriver,
  listVirtualFunctions,
  noFreeVf,
  pfDeviceDir,
  type VirtualFunction,
  vfNetdevs,
} from "./sysfs.js";

export interface SriovPluginDeps {
  readonly kernel: Kernel;
  /** The node's namespace, where the PF and free VFs' netdevs are; the plugin's own by default. */
  readonly hostNs?: Netns;
  readonly delegates?: DelegateOptions;
  /** Writes one sysfs attribute (default: the file). Tests pass one that also plays the PCI core. */
  readonly writeSysfs?: (path: string, value: string) => Promise<void>;
  /** Runs `ip <args>` for the PF's VF settings in the node's namespace (default: through the kernel). */
  readonly pfCommand?: (args: readonly string[]) => Promise<void>;
}

type Req = CniRequest<SriovConfig>;

/**
 * `strata-sriov`: gives a pod a virtual function of an SR-IOV NIC. In netdevice mode the VF's
 * netdev moves into the pod under CNI_IFNAME, configured through the PF (MAC, VLAN, spoof check,
 * trust) and addressed by IPAM; in vfio-pci mode (DPDK) the VF is bound to vfio-pci and only its
 * PCI address is handed over (the result's `pciID`). DEL gives the VF back as it was found.
 */
export function createSriovPlugin(deps: SriovPluginDeps): CniPlugin<SriovConfig> {
  const { kernel } = deps;
  const hostNs = deps.hostNs ?? currentNetns;
  // A `netns` argument inside `ip -n <pod>` is opened from the pod: the node by a path that names it.
  const nodeRef: Netns = hostNs.kind === "current" ? netnsAtPath(`/proc/${process.pid}/ns/net`) : hostNs;
  const writeSysfs = deps.writeSysfs ?? ((path: string, value: string) => writeFile(path, value));
  const pfCommand =
    deps.pfCommand ??
    (async (args: readonly string[]) => {
      const r = await kernel.exec(hostNs, ["ip", ...args]);
      if (r.code !== 0) throw new KernelError("failed", `ip ${args.join(" ")}`, r.stderr.trim());
    });
  const ipamOf = (req: Req): Ipam | undefined =>
    req.config.ipam ? ipamDelegate(req.config.ipam.type, deps.delegates) : undefined;

  async function writeAll(writes: readonly SysfsWrite[]): Promise<void> {
    for (const w of writes) await writeSysfs(w.path, w.value);
  }

  /** Claim the first free VF (see claims.ts): racing ADDs each get a different one, or code 11. */
  async function claimFreeVf(req: Req, vfs: readonly VirtualFunction[]) {
    const c = req.config;
    const taken = await claimedIndexes(c.dataDir, c.master);
    for (const vf of vfs) {
      if (taken.has(vf.index)) continue;
      const base = {
        containerId: req.containerId,
        ifName: req.ifName,
        pf: c.master,
        vfIndex: vf.index,
        pciAddress: vf.pciAddress,
        deviceType: c.deviceType,
        driver: vf.driver,
      };
      let claim: VfClaim;
      if (c.deviceType === "netdevice") {
        // Only a VF with its netdev here (bound to a netdev driver, not in another pod).
        const netdev = vf.netdevs.length === 1 ? vf.netdevs[0] : undefined;
        if (!netdev || vf.driver === "vfio-pci") continue;
        const link = await kernel.link(hostNs, netdev);
        if (!link) continue;
        claim = { ...base, netdev, mac: link.mac };
      } else {
        claim = { ...base, boundByUs: vf.driver !== "vfio-pci" };
      }
      if (await tryClaim(c.dataDir, claim)) return { vf, claim };
    }
    throw noFreeVf(c.master, vfs.length);
  }

  /** Give a claimed VF back: netdev home under its name (or vfio-pci unbound), PF settings reset. */
  async function giveBack(claim: VfClaim, c: SriovConfig, podNetnsPath: string): Promise<void> {
    if (claim.deviceType === "netdevice") {
      const pod = podNetnsPath !== "" && (await kernel.netns.exists(netnsAtPath(podNetnsPath)));
      const inPod = pod ? await kernel.link(netnsAtPath(podNetnsPath), claim.ifName) : undefined;
      if (inPod) {
        await kernel.apply(netnsAtPath(podNetnsPath), netdevBackToNode(claim.ifName, claim, nodeRef));
      } else if (claim.netdev) {
        // The pod's namespace is gone: the kernel moved the netdev back on its own, perhaps
        // still named CNI_IFNAME. sysfs names it wherever it is in the node's namespace.
        const vfDir = join(pfDeviceDir(c.sysfsRoot, claim.pf), `virtfn${claim.vfIndex}`);
        const here = (await vfNetdevs(vfDir))[0];
        if (here && here !== claim.netdev) {
          await kernel.apply(hostNs, [{ op: "link.set", name: here, up: false, rename: claim.netdev }]);
        }
      }
    } else if (claim.boundByUs) {
      const dir = join(pfDeviceDir(c.sysfsRoot, claim.pf), `virtfn${claim.vfIndex}`);
      if ((await boundDriver(dir)) === "vfio-pci") {
        await writeAll(vfioUnbindWrites(c.sysfsRoot, { dir, pciAddress: claim.pciAddress }));
      }
    }
    await pfCommand(vfResetArgs(claim, c));
    await releaseClaim(c.dataDir, claim.pf, claim.vfIndex);
  }

  async function add(req: Req): Promise<CniResult> {
    const c = req.config;
    const podNetns = await podNetnsForAdd(req);
    if (await claimOf(c.dataDir, c.master, req.containerId, req.ifName)) {
      throw new CniError(
        CniErrorCode.InvalidEnvironment,
        `CNI_IFNAME ${req.ifName} of container ${req.containerId} already holds a VF of ${c.master}`,
        "this attachment is set up and was left untouched; DEL it before adding it again",
      );
    }
    if (c.deviceType === "netdevice" && (await kernel.link(podNetns, req.ifName).catch(() => undefined))) {
      throw new CniError(
        CniErrorCode.InvalidEnvironment,
        `CNI_IFNAME ${req.ifName} already exists in ${req.netns}`,
        "choose another CNI_IFNAME (a secondary network is usually net1, net2, ...)",
      );
    }
    const vfs = await listVirtualFunctions(c.sysfsRoot, c.master);
    const undo = new UndoStack();
    try {
      const { vf, claim } = await claimFreeVf(req, vfs);
      undo.push(`release VF ${vf.index} of ${c.master}`, () => releaseClaim(c.dataDir, c.master, vf.index));
      const mac = runtimeMac(req) ?? c.mac;
      try {
        await pfCommand(vfSettingsArgs(c.master, vf.index, c, mac));
      } catch (err) {
        throw kernelToCni(err, `configuring VF ${vf.index} through PF ${c.master}`);
      }
      undo.push(`reset VF ${vf.index} settings`, () => pfCommand(vfResetArgs(claim, c)));
      const iface = { name: req.ifName, sandbox: req.netns, pciID: vf.pciAddress };
      if (c.deviceType === "vfio-pci") {
        if (claim.boundByUs) {
          undo.push(`unbind VF ${vf.pciAddress} from vfio-pci`, () =>
            writeAll(vfioUnbindWrites(c.sysfsRoot, vf)),
          );
          try {
            await writeAll(vfioBindWrites(c.sysfsRoot, vf));
          } catch (err) {
            throw new CniError(
              CniErrorCode.KernelFailure,
              `binding VF ${vf.pciAddress} to vfio-pci failed`,
              `is the vfio-pci module loaded and the IOMMU on? ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
        undo.commit();
        return {
          cniVersion: req.cniVersion,
          interfaces: [{ ...iface, ...(mac ? { mac } : {}) }],
          ips: [],
          routes: [],
          dns: {},
        };
      }
      const netdev = claim.netdev as string;
      const move = netdevIntoPod(netdev, req.ifName, podNetns, { mac, mtu: c.mtu });
      try {
        await kernel.apply(hostNs, move.node);
        undo.push(`return ${netdev} to the node`, async () => {
          // Under either name, wherever the failure left it.
          for (const name of [req.ifName, netdev]) {
            if (await kernel.link(podNetns, name).catch(() => undefined)) {
              await kernel.apply(podNetns, netdevBackToNode(name, claim, nodeRef));
              return;
            }
          }
        });
        await kernel.apply(podNetns, move.pod);
      } catch (err) {
        throw kernelToCni(err, `moving VF netdev ${netdev} into the pod`);
      }
      const ipam = ipamOf(req);
      let allocation: CniResult | undefined;
      if (ipam) {
        allocation = await ipam.allocate(req);
        undo.push("release IPAM addresses", () => ipam.release(req));
      }
      const ips = allocation && ipam ? allocatedAddresses(allocation, ipam.type) : [];
      try {
        await kernel.apply(podNetns, childLinkPodOps(req.ifName, ips, allocation?.routes));
      } catch (err) {
        throw kernelToCni(err, "configuring the pod interface");
      }
      const link = await kernel.link(podNetns, req.ifName);
      undo.commit();
      return {
        cniVersion: req.cniVersion,
        interfaces: [{ ...iface, mac: link?.mac ?? mac ?? "" }],
        ips: ips.map((ip) => ({ ...ip, interface: 0 })),
        routes: [...(allocation?.routes ?? [])],
        dns: allocation?.dns ?? {},
      };
    } catch (err) {
      throw addFailure(err, await undo.unwind());
    }
  }

  async function del(req: Req): Promise<void> {
    const c = req.config;
    try {
      const claim = await claimOf(c.dataDir, c.master, req.containerId, req.ifName);
      if (claim) await giveBack(claim, c, req.netns);
    } catch (err) {
      throw kernelToCni(err, "DEL");
    } finally {
      await ipamOf(req)?.release(req);
    }
  }

  async function check(req: Req): Promise<void> {
    const c = req.config;
    const prevResult = requirePrevResult(req);
    await ipamOf(req)?.check(req);
    const claim = await claimOf(c.dataDir, c.master, req.containerId, req.ifName);
    if (!claim) throw stateMismatch(`no VF of ${c.master} is claimed for ${req.containerId}/${req.ifName}`);
    if (c.deviceType === "vfio-pci") {
      const driver = await boundDriver(join(pfDeviceDir(c.sysfsRoot, c.master), `virtfn${claim.vfIndex}`));
      if (driver !== "vfio-pci")
        throw stateMismatch(`VF ${claim.pciAddress} is bound to ${driver ?? "no driver"}, not vfio-pci`);
      return;
    }
    const link = await checkPodInterface(kernel, {
      netns: netnsAtPath(req.netns),
      netnsPath: req.netns,
      ifName: req.ifName,
      prevResult,
      mtu: c.mtu,
    });
    const mac = runtimeMac(req) ?? c.mac;
    if (mac && link.mac !== mac) throw stateMismatch(`${req.ifName} has MAC ${link.mac}, expected ${mac}`);
  }

  async function gc(req: Req): Promise<void> {
    const c = req.config;
    const keep = new Set(req.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
    try {
      for (const claim of await readClaims(c.dataDir, c.master)) {
        if (!keep.has(`${claim.containerId}/${claim.ifName}`)) await giveBack(claim, c, "");
      }
    } catch (err) {
      throw kernelToCni(err, "GC of VF claims");
    }
    await ipamOf(req)?.gc(req);
  }

  async function status(req: Req): Promise<void> {
    try {
      await listVirtualFunctions(req.config.sysfsRoot, req.config.master);
    } catch (err) {
      const e = kernelToCni(err, "STATUS");
      throw new CniError(CniErrorCode.PluginNotAvailable, e.message, e.details, { cause: err });
    }
    await ipamOf(req)?.status(req);
  }

  return { type: "strata-sriov", parseConfig: (raw) => parseSriovConfig(raw), add, del, check, gc, status };
}
