import type { DelegateOptions } from "../../cni/delegate.js";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniResult } from "../../cni/result.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import type { BackgroundTasks } from "../../common/background-tasks.js";
import { UndoStack } from "../../common/undo-stack.js";
import { currentNetns, type Kernel, type Netns, netnsAtPath } from "../../kernel/api.js";
import { isKernelError } from "../../kernel/errors.js";
import { bridgeMac, randomMac } from "../../kernel/mac-address.js";
import { checkPodInterface, requirePrevResult, stateMismatch } from "../toolkit/check.js";
import { allocatedAddresses, ipamDelegate } from "../toolkit/ipam.js";
import { addFailure, kernelToCni } from "../toolkit/kernel-errors.js";
import { attachmentResult } from "../toolkit/pod-addressing.js";
import { podNetnsForAdd } from "../toolkit/pod-netns.js";
import { type AddressPlan, type LinkPlan, planAddresses, planLink } from "./attach-plan.js";
import { parseStrataConfig, type StrataConfig } from "./config.js";
import { hostVethName, routedHostMac } from "./names.js";
import { SourceGuard } from "./source-guard.js";
import { guardFamily, type PortSources, portSources } from "./source-guard-plan.js";
import type { GuardWriter } from "./source-guard-writer.js";

export interface StrataPluginDeps {
  readonly kernel: Kernel;
  /** The node's namespace, where the host side of every veth lives (default: this process's own). */
  readonly hostNs?: Netns;
  /** IPAM types linked into this process (strata-ipam), called in-process (see cni/delegate.ts). */
  readonly delegates?: DelegateOptions;
  /**
   * Resident mode (the agent): DEL cuts the pod off (host veth down, address released), answers,
   * and deletes the veth pair right after; the kernel's unregister wait (an RCU grace period,
   * ~10-25 ms here) then stays off the runtime's critical path. ADD of the same attachment waits
   * for a pending deletion. Standalone processes delete synchronously.
   */
  readonly background?: BackgroundTasks;
  /**
   * Resident mode: how the source guard writes (source-guard-writer.ts: nf_tables netlink from
   * inside the process, or a long-lived `nft -i`); default a spawned `nft -f` per write.
   */
  readonly guardWriter?: GuardWriter;
  /** Fault injection for crash tests: exit the process right after the named ADD step. */
  readonly crashAfterStep?: string;
}

type Req = CniRequest<StrataConfig>;

/**
 * CNI 1.1.0, ADD: "If an interface of the requested name already exists in the container, the
 * CNI plugin MUST return with an error." Code 4 (invalid necessary environment variables): the
 * configuration is fine, CNI_IFNAME names an interface that is taken, and the spec's text for code
 * 4 asks the message to name the variable. `liveAttachment`: the interface is this very
 * attachment's (its host veth exists), so what IPAM and the guard hold belongs to a running pod
 * and must not be undone.
 */
class InterfaceExistsError extends CniError {
  constructor(
    ifName: string,
    netns: string,
    readonly liveAttachment: boolean,
  ) {
    super(
      CniErrorCode.InvalidEnvironment,
      `CNI_IFNAME ${ifName} already exists in ${netns}`,
      liveAttachment
        ? "this attachment is already set up and was left untouched; DEL it before adding it again"
        : "another interface has this name: choose another CNI_IFNAME",
    );
  }
}

export function createStrataPlugin(deps: StrataPluginDeps): CniPlugin<StrataConfig> {
  const { kernel } = deps;
  /** The node's namespace: where the plugin runs unless told otherwise (an agent host). */
  const hostNs: Netns = deps.hostNs ?? currentNetns;
  const guard = new SourceGuard(kernel, hostNs, deps.guardWriter);
  /** Shared node state this process already applied (one entry per distinct network setup). */
  const sharedApplied = new Set<string>();
  const ipamOf = (req: Req) => ipamDelegate(req.config.ipam.type, deps.delegates);
  const crashPoint = (step: string) => {
    // Simulates kill -9 at a precise point so tests can prove DEL/GC recover from it.
    if (deps.crashAfterStep === step) process.exit(137);
  };

  /**
   * Wire the veth pair in one iproute2 batch (the bridge is skipped once this process has made it);
   * the slower paths only run when something is off.
   */
  async function wireLink(
    plan: LinkPlan,
    req: Req,
    link: { hostVeth: string; podNetns: Netns },
    undo: UndoStack,
    deleteVeth: () => Promise<void>,
  ): Promise<void> {
    const sharedKey = JSON.stringify(plan.sharedLink);
    const cached = sharedApplied.has(sharedKey);
    const ops = cached ? plan.link : [...plan.sharedLink, ...plan.link];
    const vethIndex = ops.length - plan.link.length;
    for (let attempt = 0; ; attempt++) {
      try {
        await kernel.apply(hostNs, ops);
        sharedApplied.add(sharedKey);
        undo.push("delete veth pair", deleteVeth);
        return;
      } catch (err) {
        const failedAt = isKernelError(err) ? err.failedOpIndex : undefined;
        const vethCreated = failedAt === undefined || failedAt > vethIndex;
        if (attempt === 0 && cached && isKernelError(err, "not-found")) {
          // Shared state vanished under us (someone deleted the bridge): forget it, re-apply all.
          if (vethCreated) await deleteVeth();
          sharedApplied.delete(sharedKey);
          return wireLink(plan, req, link, undo, deleteVeth);
        }
        if (vethCreated) undo.push("delete veth pair", deleteVeth);
        if (failedAt === vethIndex && isKernelError(err, "exists")) {
          // Either name may be taken: the pod's interface, or our host end. Only look on this path.
          const [podIf, hostIf] = await Promise.all([
            kernel.link(link.podNetns, req.ifName).catch(() => undefined),
            kernel.link(hostNs, link.hostVeth).catch(() => undefined),
          ]);
          if (!podIf && attempt === 0) {
            // A host end without its pod end (left by a crashed ADD into a namespace since gone):
            // the name is this attachment's, so remove it and go again.
            await deleteVeth();
            continue;
          }
          if (podIf) {
            const live = hostIf !== undefined && (hostIf.peerIndex ?? podIf.index) === podIf.index;
            throw new InterfaceExistsError(req.ifName, req.netns, live);
          }
        }
        throw kernelToCni(err, "wiring the veth pair");
      }
    }
  }

  /** Node-side and pod-side addressing, in parallel: they touch different namespaces. */
  async function applyAddresses(plan: AddressPlan, podNetns: Netns): Promise<void> {
    const sharedKey = JSON.stringify(plan.sharedAddress);
    const hostOps = sharedApplied.has(sharedKey) ? plan.host : [...plan.sharedAddress, ...plan.host];
    const node = hostOps.length === 0 ? Promise.resolve() : kernel.apply(hostNs, hostOps);
    const [n, p] = await Promise.allSettled([node, kernel.apply(podNetns, plan.pod)]);
    if (n.status === "rejected") {
      sharedApplied.delete(sharedKey);
      throw kernelToCni(n.reason, "configuring the node side (gateway, routes)");
    }
    if (p.status === "rejected") throw kernelToCni(p.reason, "configuring the pod interface");
    sharedApplied.add(sharedKey);
  }

  async function add(req: Req): Promise<CniResult> {
    const c = req.config;
    const ipamVerbs = ipamOf(req);
    const podNetns = await podNetnsForAdd(req);
    const hostVeth = hostVethName(c.vethPrefix, req.containerId, req.ifName);
    const hostMac = c.mode === "routed" ? routedHostMac : randomMac();
    const podMac = randomMac();
    const link = {
      mode: c.mode,
      bridge: c.bridge,
      bridgeMac: bridgeMac(c.bridge),
      mtu: c.mtu,
      hostVeth,
      hostMac,
    };
    const linkInput = { ...link, podIfName: req.ifName, podMac, podNetns };
    const deleteVeth = () => kernel.apply(hostNs, [{ op: "link.delete", name: hostVeth, ifPresent: true }]);
    const undo = new UndoStack();
    const family = guardFamily(c.mode);
    try {
      await deps.background?.settled(hostVeth);
      // IPAM and the address-free wiring run together. The guard follows IPAM (it needs the
      // addresses) while the veth is still being made, so it costs no time of its own when nft is
      // not slower than the link batch; and it is in place before the pod's interface comes up.
      const ipamStep = ipamVerbs.allocate(req);
      const guardStep: Promise<PortSources | undefined> = c.antiSpoofing
        ? ipamStep.then(async (r) => {
            const sources = portSources(
              hostVeth,
              (r.ips ?? []).map((ip) => ip.address),
            );
            await guard.allow(family, sources);
            return sources;
          })
        : Promise.resolve(undefined);
      const linkStep = wireLink(planLink(linkInput), req, { hostVeth, podNetns }, undo, deleteVeth);
      const [ipamOutcome, guardOutcome, linkOutcome] = await Promise.allSettled([
        ipamStep,
        guardStep,
        linkStep,
      ]);
      const exists =
        linkOutcome.status === "rejected" && linkOutcome.reason instanceof InterfaceExistsError
          ? linkOutcome.reason
          : undefined;
      // ADD of a live attachment: IPAM handed back what the pod holds and the guard re-added what
      // was there; undoing either would cut a running pod off. Otherwise each step undoes itself.
      if (!exists?.liveAttachment) {
        if (ipamOutcome.status === "fulfilled")
          undo.push("release IPAM addresses", () => ipamVerbs.release(req));
        const sources = guardOutcome.status === "fulfilled" ? guardOutcome.value : undefined;
        if (sources) undo.push("remove anti-spoofing elements", () => guard.revoke(family, sources));
      }
      if (exists) throw exists;
      if (ipamOutcome.status === "rejected") throw ipamOutcome.reason;
      if (guardOutcome.status === "rejected") throw guardOutcome.reason;
      if (linkOutcome.status === "rejected") throw linkOutcome.reason;
      const ipam = ipamOutcome.value;
      // IPAM and the veth run in parallel, so both crash points sit here: either name leaves an
      // address reserved and a veth pair behind, for DEL and GC to clean up.
      crashPoint("ipam");
      crashPoint("veth");
      const plan = planAddresses({
        ...linkInput,
        isGateway: c.isGateway,
        isDefaultGateway: c.isDefaultGateway,
        ips: allocatedAddresses(ipam, c.ipam.type),
        routes: ipam.routes ?? [],
      });
      await applyAddresses(plan, podNetns);
      // Interface indexes: bridge mode lists [bridge, host veth, pod]; routed mode [host veth, pod].
      const interfaces = [
        ...(c.mode === "bridge" ? [{ name: c.bridge, mac: bridgeMac(c.bridge) }] : []),
        { name: hostVeth, mac: hostMac },
        { name: req.ifName, mac: podMac, sandbox: req.netns, ...(c.mtu ? { mtu: c.mtu } : {}) },
      ];
      const result = attachmentResult(req.cniVersion, interfaces, plan.resultIps, plan.resultRoutes, ipam);
      undo.commit();
      return result;
    } catch (err) {
      throw addFailure(err, await undo.unwind());
    }
  }

  async function del(req: Req): Promise<void> {
    const c = req.config;
    const hostVeth = hostVethName(c.vethPrefix, req.containerId, req.ifName);
    const fromPrev = req.prevResult?.interfaces?.find(
      (i) => !i.sandbox && i.name.startsWith(c.vethPrefix),
    )?.name;
    const names = [...new Set([hostVeth, ...(fromPrev ? [fromPrev] : [])])];
    const remove = (name: string) => kernel.apply(hostNs, [{ op: "link.delete", name, ifPresent: true }]);
    // The guard's elements go after the link (no port, no traffic to guard): what ADD allowed when
    // that is known (prevResult, or this agent made them), else what the table holds for the name,
    // so DEL needs no prevResult and finds nothing to do the second time.
    const family = guardFamily(c.mode);
    const known = req.prevResult?.ips
      ? portSources(
          hostVeth,
          req.prevResult.ips.map((ip) => ip.address),
        )
      : undefined;
    const forget = (name: string) => (c.antiSpoofing ? guard.forget(family, name, known) : Promise.resolve());
    try {
      // Cut the pod off first; deleting the host end deletes the pair, wherever the pod end is.
      for (const name of names) {
        if (!deps.background) {
          await remove(name);
          await forget(name);
          continue;
        }
        await deps.background.settled(name);
        let present = true;
        try {
          await kernel.apply(hostNs, [{ op: "link.set", name, up: false }]);
        } catch (err) {
          if (!isKernelError(err, "not-found")) throw err;
          present = false; // already gone; its elements may not be
        }
        // Same key as the link: an ADD of this attachment waits for both.
        if (present) deps.background.run(name, () => remove(name));
        deps.background.run(name, () => forget(name));
      }
    } catch (err) {
      throw kernelToCni(err, "DEL");
    } finally {
      // The address is released even when the kernel side failed: it must never stay reserved.
      await ipamOf(req).release(req);
    }
  }

  async function check(req: Req): Promise<void> {
    const c = req.config;
    const prev = requirePrevResult(req);
    await ipamOf(req).check(req);
    // The pod side (interface, addresses, MTU, routes), then what is this plugin's own.
    await checkPodInterface(kernel, {
      netns: netnsAtPath(req.netns),
      netnsPath: req.netns,
      ifName: req.ifName,
      prevResult: prev,
      mtu: c.mtu,
    });
    const hostVeth = hostVethName(c.vethPrefix, req.containerId, req.ifName);
    const host = await kernel.link(hostNs, hostVeth);
    if (!host) throw stateMismatch(`host veth ${hostVeth} is missing`);
    if (c.mode === "bridge" && host.master !== c.bridge)
      throw stateMismatch(`${hostVeth} is not attached to ${c.bridge}`);
    if (c.antiSpoofing) {
      const want = portSources(
        hostVeth,
        (prev.ips ?? []).map((ip) => ip.address),
      );
      const table = await guard.read(guardFamily(c.mode));
      const have = table?.sources.get(hostVeth);
      if (!table?.ports.has(hostVeth)) throw stateMismatch(`anti-spoofing does not guard ${hostVeth}`);
      for (const a of [...want.v4, ...want.v6]) {
        if (![...(have?.v4 ?? []), ...(have?.v6 ?? [])].includes(a))
          throw stateMismatch(`anti-spoofing does not allow ${a} from ${hostVeth}`);
      }
    }
  }

  async function gc(req: Req): Promise<void> {
    const c = req.config;
    await ipamOf(req).gc(req);
    if (c.antiSpoofing) {
      // Elements of pods that are gone: not a live link here, not an attachment the runtime keeps.
      const keep = new Set(
        req.validAttachments.map((a) => hostVethName(c.vethPrefix, a.containerID, a.ifname)),
      );
      try {
        await guard.collectGarbage(guardFamily(c.mode), keep);
      } catch (err) {
        throw kernelToCni(err, "GC of anti-spoofing elements");
      }
    }
  }

  async function status(req: Req): Promise<void> {
    await ipamOf(req).status(req);
  }

  return {
    type: "strata",
    parseConfig: (raw) => parseStrataConfig(raw),
    add,
    del,
    check,
    gc,
    status,
  };
}
