import type { DelegateOptions } from "../../cni/delegate.js";
import { CniError, CniErrorCode, invalidConfig } from "../../cni/errors.js";
import type { CniIpConfig, CniResult } from "../../cni/result.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import { UndoStack } from "../../common/undo-stack.js";
import {
  currentNetns,
  type Kernel,
  type KernelOp,
  type Link,
  type Netns,
  netnsAtPath,
} from "../../kernel/api.js";
import { isKernelError, type KernelError } from "../../kernel/errors.js";
import { randomMac } from "../../kernel/mac-address.js";
import { checkPodInterface, requirePrevResult, stateMismatch } from "./check.js";
import type { IpamSection } from "./config-schema.js";
import { allocatedAddresses, type Ipam, ipamDelegate } from "./ipam.js";
import { addFailure, kernelToCni } from "./kernel-errors.js";
import { requireMasterForStatus, requireMtuWithinMaster, resolveMaster } from "./master-link.js";
import { podInterfaceOps, podRoutes } from "./pod-addressing.js";
import { podNetnsForAdd } from "./pod-netns.js";
import { runtimeMac } from "./runtime-config.js";

/**
 * The flow every plugin shares whose pod interface is a child link of a node interface (macvlan,
 * ipvlan): the link is made on the master directly inside the pod's namespace, then IPAM, then
 * the pod's addressing. What differs per kind (its configuration, the link it makes, how a kernel
 * refusal reads, what CHECK compares) is a `ChildLinkKind`.
 */

/** The keys every child-link configuration has. */
export interface ChildLinkConfig {
  /** The node interface; undefined: the default route's. */
  readonly master?: string;
  readonly mtu?: number;
  readonly ipam?: IpamSection;
}

export interface ChildLinkKind<C extends ChildLinkConfig> {
  /** The plugin type ("strata-macvlan"). */
  readonly type: string;
  parseConfig(raw: Readonly<Record<string, unknown>>): C;
  /** Pure: the op that makes the pod interface on `master`, created inside `podNetns`. */
  linkOp(config: C, at: ChildLinkPlacement): KernelOp;
  /** A clearer error for the kernel's refusal of `linkOp` than its bare errno, when there is one. */
  explainRefusal?(err: KernelError, config: C, master: Link): CniError | undefined;
  /** CHECK: what differs between the pod's link and the configuration, or undefined. */
  linkMismatch(link: Link, config: C): string | undefined;
  /** STATUS: throw code 50 when this node cannot make the link at all (a missing kernel module). */
  status?(kernel: Kernel): Promise<void>;
}

export interface ChildLinkPlacement {
  readonly master: string;
  readonly ifName: string;
  readonly podNetns: Netns;
  /** The MAC the runtime asked for (runtimeConfig.mac, the "mac" capability), if any. */
  readonly mac?: string;
  /** A fresh random locally administered MAC, for a kind that gives its link one of its own. */
  readonly freshMac?: string;
}

/** A master known only by name (its link was not read), for messages. */
const masterStub = (name: string): Link => ({ index: 0, name, mtu: 0, up: true, operState: "UNKNOWN" });

export interface ChildLinkPluginDeps {
  readonly kernel: Kernel;
  /** The node's namespace, where the master is; the namespace the plugin runs in by default. */
  readonly hostNs?: Netns;
  /** IPAM types linked into this process (strata-ipam), called in-process. */
  readonly delegates?: DelegateOptions;
}

/**
 * Pure: the pod-side ops once the link is in the pod. `arp_notify` first (as the reference
 * macvlan does), so the link coming up announces its MAC to neighbours that cached an old one
 * for a reused address; then the addresses, the link up and the routes IPAM gave.
 */
export function childLinkPodOps(
  ifName: string,
  ips: readonly CniIpConfig[],
  ipamRoutes: CniResult["routes"],
) {
  const routes = podRoutes(ips, ipamRoutes ?? [], { defaultGateway: false });
  const arpNotify: KernelOp[] = ips.some((ip) => !ip.address.includes(":"))
    ? [{ op: "sysctl.set", key: `net/ipv4/conf/${ifName}/arp_notify`, value: "1" }]
    : [];
  return [...arpNotify, ...podInterfaceOps({ ifName, addresses: ips.map((ip) => ip.address), routes })];
}

/** CNI 1.1.0 ADD: an interface of the requested name already in the container is an error (code 4). */
function interfaceTaken(ifName: string, netns: string): CniError {
  return new CniError(
    CniErrorCode.InvalidEnvironment,
    `CNI_IFNAME ${ifName} already exists in ${netns}`,
    "choose another CNI_IFNAME (a secondary network is usually net1, net2, ...)",
  );
}

export function createChildLinkPlugin<C extends ChildLinkConfig>(
  kind: ChildLinkKind<C>,
  deps: ChildLinkPluginDeps,
): CniPlugin<C> {
  const { kernel } = deps;
  const hostNs = deps.hostNs ?? currentNetns;
  const ipamOf = (req: CniRequest<C>): Ipam | undefined =>
    req.config.ipam ? ipamDelegate(req.config.ipam.type, deps.delegates) : undefined;

  /**
   * The master's name, read from the kernel only when needed: to find the default route's
   * interface, or to hold a configured MTU against the master's. A configured master that is
   * missing shows as the kernel's refusal of the link (see `add`), which saves a read per ADD.
   */
  async function masterFor(c: C): Promise<{ name: string; link?: Link }> {
    if (c.master !== undefined && c.mtu === undefined) return { name: c.master };
    const link = await resolveMaster(kernel, hostNs, c.master);
    requireMtuWithinMaster(c.mtu, link);
    return { name: link.name, link };
  }

  async function add(req: CniRequest<C>): Promise<CniResult> {
    const c = req.config;
    const podNetns = await podNetnsForAdd(req);
    const master = await masterFor(c);
    const ipam = ipamOf(req);
    const op = kind.linkOp(c, {
      master: master.name,
      ifName: req.ifName,
      podNetns,
      mac: runtimeMac(req),
      freshMac: randomMac(),
    });
    const chosenMac = op.op === "link.add" && "mac" in op.spec ? op.spec.mac : undefined;
    const undo = new UndoStack();
    try {
      // The link before IPAM: a kernel without the link type, a passthru master taken or a taken
      // CNI_IFNAME (a second ADD of a live attachment among them) fail before any address is
      // reserved, so nothing of a running pod is undone.
      try {
        await kernel.apply(hostNs, [op]);
      } catch (err) {
        if (isKernelError(err, "exists")) throw interfaceTaken(req.ifName, req.netns);
        if (isKernelError(err, "not-found") && /cannot find device/i.test(err.message)) {
          throw invalidConfig(
            `master ${master.name} does not exist on this node`,
            'set "master" to an interface of the node (ip link show), or leave it out to use the default route\'s',
          );
        }
        const explained = isKernelError(err)
          ? kind.explainRefusal?.(err, c, master.link ?? masterStub(master.name))
          : undefined;
        throw explained ?? kernelToCni(err, `creating the ${kind.type} link on ${master.name}`);
      }
      undo.push(`delete ${req.ifName} in the pod`, () =>
        kernel.apply(podNetns, [{ op: "link.delete", name: req.ifName, ifPresent: true }]),
      );
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
      // A kind that sets no MAC of its own (ipvlan, passthru) has the master's: read it.
      const mac = chosenMac ?? (await kernel.link(podNetns, req.ifName))?.mac ?? "";
      undo.commit();
      // The reference plugins' shape: one sandbox interface, IPAM's routes as IPAM gave them.
      const podIndex = 0;
      return {
        cniVersion: req.cniVersion,
        interfaces: [{ name: req.ifName, mac, sandbox: req.netns }],
        ips: ips.map((ip) => ({ ...ip, interface: podIndex })),
        routes: [...(allocation?.routes ?? [])],
        dns: allocation?.dns ?? {},
      };
    } catch (err) {
      throw addFailure(err, await undo.unwind());
    }
  }

  async function del(req: CniRequest<C>): Promise<void> {
    try {
      // The namespace may be gone (the runtime removed it): its links went with it.
      if (req.netns === "" || !(await kernel.netns.exists(netnsAtPath(req.netns)))) return;
      const podNetns = netnsAtPath(req.netns);
      const link = await kernel.link(podNetns, req.ifName);
      // Only our kind of link: after an ADD refused for a taken name, the name is someone else's.
      if (link && link.kind === linkKindOf(kind, req.config, podNetns)) {
        await kernel.apply(podNetns, [{ op: "link.delete", name: req.ifName, ifPresent: true }]);
      }
    } catch (err) {
      throw kernelToCni(err, "DEL");
    } finally {
      // The address is released even when the kernel side failed: it must never stay reserved.
      await ipamOf(req)?.release(req);
    }
  }

  async function check(req: CniRequest<C>): Promise<void> {
    const c = req.config;
    const prevResult = requirePrevResult(req);
    await ipamOf(req)?.check(req);
    const link = await checkPodInterface(kernel, {
      netns: netnsAtPath(req.netns),
      netnsPath: req.netns,
      ifName: req.ifName,
      prevResult,
      mtu: c.mtu,
    });
    const mismatch = kind.linkMismatch(link, c);
    if (mismatch) throw stateMismatch(`${req.ifName}: ${mismatch}`);
    const master = await resolveMaster(kernel, hostNs, c.master).catch(() => undefined);
    if (!master) throw stateMismatch(`master ${c.master ?? "(default route's)"} is gone`);
  }

  return {
    type: kind.type,
    parseConfig: (raw) => kind.parseConfig(raw),
    add,
    del,
    check,
    gc: async (req) => {
      await ipamOf(req)?.gc(req);
    },
    status: async (req) => {
      await kind.status?.(kernel);
      await requireMasterForStatus(kernel, hostNs, req.config.master);
      await ipamOf(req)?.status(req);
    },
  };
}

/** The IFLA_INFO_KIND of the link a kind makes ("macvlan", "ipvlan"), read from its own op. */
function linkKindOf<C extends ChildLinkConfig>(kind: ChildLinkKind<C>, config: C, podNetns: Netns): string {
  const op = kind.linkOp(config, { master: "-", ifName: "-", podNetns });
  return op.op === "link.add" ? op.spec.kind : "";
}
