import { type LinkedPlugins, runDelegate } from "../../cni/delegate.js";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniResult } from "../../cni/result.js";
import type { CniPlugin, CniRequest } from "../../cni/skeleton.js";
import { atLeast } from "../../cni/version.js";
import { describeError } from "../../common/errors.js";
import { UndoStack } from "../../common/undo-stack.js";
import type { Datastore } from "../../datastore/api.js";
import type { Kernel, KernelOp, Netns } from "../../kernel/api.js";
import {
  networkStatusAnnotation,
  networksAnnotation,
  parseNetworksAnnotation,
  planInterfaces,
} from "../../netattach/annotation.js";
import { NetAttachError } from "../../netattach/errors.js";
import { nadConfList } from "../../netattach/nad.js";
import { NadStore } from "../../netattach/nad-store.js";
import { type NetworkStatus, networkStatus } from "../../netattach/network-status.js";
import { checkPodRef, PodAnnotationStore, type PodRef } from "../../netattach/pod-annotations.js";
import { addFailure, kernelToCni } from "../toolkit/kernel-errors.js";
import { podNetnsForAdd } from "../toolkit/pod-netns.js";
import {
  type CachedAttachments,
  listCached,
  readCache,
  removeCache,
  writeCache,
} from "./attachment-cache.js";
import { type MultiConfig, parseMultiConfig } from "./config.js";
import { addList, runList } from "./delegate-list.js";
import { type AttachmentPlan, planAttachments } from "./plan.js";

/** Opens the store a `datastore` URL names (the composition root picks the clients). */
export type OpenStore = (url: string, tls: MultiConfig["etcdTls"]) => Datastore;

export interface MultiPluginDeps {
  readonly kernel: Kernel;
  /** Plugin types linked into this process (strata, strata-ipam, ...), called without exec. */
  readonly linked: LinkedPlugins;
  readonly openStore: OpenStore;
  /** The node's namespace file when it is not this process's: executed delegates run inside it. */
  readonly netnsPath?: string;
}

type Req = CniRequest<MultiConfig>;

/** The pod of an invocation, from the K8S_POD_* CNI_ARGS kubelet passes; none without them. */
function podOf(req: Req): PodRef | undefined {
  const { podNamespace, podName } = req.args;
  if (!podNamespace || !podName) return undefined;
  const ref = { namespace: podNamespace, name: podName };
  checkPodRef(ref);
  return ref;
}

/** A definition or annotation that does not say what it must is the pod's configuration to fix: 7. */
function netAttachToCni(err: unknown): unknown {
  if (err instanceof NetAttachError)
    return new CniError(CniErrorCode.InvalidNetworkConfig, err.message, "", { cause: err });
  return err;
}

/**
 * `strata-multi`: Multus' semantics. ADD attaches the cluster network on CNI_IFNAME (eth0), then
 * each network the pod's `k8s.v1.cni.cncf.io/networks` annotation asks for (net1, net2, ... unless
 * named), delegating each to its configuration list — Strata's linked plugins in-process, any
 * other type from CNI_PATH. It returns the cluster network's result and writes the pod's
 * `k8s.v1.cni.cncf.io/network-status`. A failing delegate rolls back every attachment made
 * before it (and its own partial one), newest first. DEL runs the attachments of ADD (cached on
 * the node) in reverse.
 *
 * Pod metadata: kubelet passes K8S_POD_NAMESPACE/K8S_POD_NAME in CNI_ARGS; the annotations come
 * from the datastore's pod-annotation store (what a controller watching the API server fills, or
 * `strata pod annotate` in the lab); NetworkAttachmentDefinitions from the same datastore.
 */
export function createMultiPlugin(deps: MultiPluginDeps): CniPlugin<MultiConfig> {
  const linked = { linked: deps.linked, netnsPath: deps.netnsPath };

  async function withStore<T>(req: Req, fn: (s: Datastore) => Promise<T>): Promise<T> {
    let store: Datastore;
    try {
      store = deps.openStore(req.config.datastore, req.config.etcdTls);
    } catch (err) {
      throw new CniError(
        CniErrorCode.InvalidNetworkConfig,
        `datastore ${req.config.datastore}: ${describeError(err)}`,
      );
    }
    try {
      return await fn(store);
    } catch (err) {
      if (err instanceof CniError || err instanceof NetAttachError) throw netAttachToCni(err);
      throw new CniError(
        CniErrorCode.TryAgainLater,
        `the datastore ${req.config.datastore} failed`,
        describeError(err),
        { cause: err },
      );
    } finally {
      await store.close().catch(() => undefined);
    }
  }

  /** Resolve the pod's annotation into plans (NetAttachError / DatastoreError as they come); no side effect. */
  async function resolvePlans(
    req: Req,
    pod: PodRef | undefined,
    store: Datastore,
  ): Promise<AttachmentPlan[]> {
    const cluster = { list: req.config.clusterNetwork, ifName: req.ifName, runtimeConfig: req.runtimeConfig };
    if (!pod) return planAttachments(cluster, []);
    const annotation = await new PodAnnotationStore(store).get(pod, networksAnnotation);
    if (annotation === undefined) return planAttachments(cluster, []);
    const planned = planInterfaces(parseNetworksAnnotation(annotation, pod.namespace));
    const nads = new NadStore(store);
    // Read together (one round trip's wait), used in the annotation's order.
    const selected = await Promise.all(
      planned.map(async (p) => ({
        planned: p,
        list: nadConfList(await nads.require(p.selection.namespace, p.selection.name)),
      })),
    );
    return planAttachments(cluster, selected);
  }

  /** `default-route`: the pod's default route of each family goes through this network's gateway. */
  async function takeDefaultRoute(podNs: Netns, plan: AttachmentPlan): Promise<void> {
    const ops: KernelOp[] = [];
    for (const gw of plan.defaultRoute ?? []) {
      const family = gw.includes(":") ? 6 : 4;
      for (const r of await deps.kernel.routes(podNs, { family }))
        if (r.dst === "default") ops.push({ op: "route.delete", route: { ...r, family }, ifPresent: true });
      ops.push({ op: "route.add", route: { dst: "default", via: gw, dev: plan.ifName, family } });
    }
    try {
      await deps.kernel.apply(podNs, ops);
    } catch (err) {
      throw kernelToCni(err, `moving the default route to ${plan.ifName} (${plan.name})`);
    }
  }

  function statusOf(done: readonly { plan: AttachmentPlan; result: CniResult }[]): NetworkStatus[] {
    const secondaryDefault = done.some((d) => d.plan.defaultRoute);
    return done.map((d) =>
      networkStatus(
        d.plan.name,
        d.plan.ifName,
        d.result,
        d.plan.cluster ? !secondaryDefault : Boolean(d.plan.defaultRoute),
      ),
    );
  }

  /** DEL every cached attachment in reverse; every one is tried, the first failure thrown after. */
  async function delAttachments(req: Req, cached: CachedAttachments): Promise<void> {
    let first: unknown;
    for (const a of [...cached.attachments].reverse()) {
      try {
        await runList("DEL", req, a.plan, a.result, linked, req.config.nodeName);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  return {
    type: "strata-multi",
    parseConfig: (raw) => parseMultiConfig(raw),

    async add(req) {
      const pod = podOf(req);
      // One store session for the whole ADD (its client connects on first use: none without a pod).
      return withStore(req, async (store) => {
        const plans = await resolvePlans(req, pod, store);
        const podNs = await podNetnsForAdd(req);
        const { cacheDir, nodeName } = req.config;
        const undo = new UndoStack();
        const done: { plan: AttachmentPlan; result: CniResult }[] = [];
        const cache = (attachments: CachedAttachments["attachments"]) =>
          writeCache(cacheDir, req.containerId, req.ifName, {
            ...(pod ? { pod } : {}),
            netns: req.netns,
            attachments,
          });
        try {
          // The plans go to the cache before the first delegate runs: a DEL after a crash half-way
          // through finds every attachment ADD may have begun (their DEL is idempotent).
          undo.push("remove the attachment cache", () => removeCache(cacheDir, req.containerId, req.ifName));
          await cache(plans.map((plan) => ({ plan })));
          for (const plan of plans) {
            // Undo first: a delegate that fails half-way gets its DEL too.
            let result: CniResult | undefined;
            undo.push(`DEL ${plan.name} (${plan.ifName})`, () =>
              runList("DEL", req, plan, result, linked, nodeName),
            );
            result = await addList(req, plan, linked, nodeName);
            done.push({ plan, result });
          }
          await cache(done);
          const router = done.find((d) => d.plan.defaultRoute);
          if (router) await takeDefaultRoute(podNs, router.plan);
          if (pod) {
            const annotations = new PodAnnotationStore(store);
            await annotations.set(pod, networkStatusAnnotation, JSON.stringify(statusOf(done)));
            undo.push("remove the network-status annotation", async () => {
              await annotations.remove(pod, networkStatusAnnotation);
            });
          }
        } catch (err) {
          throw addFailure(err, await undo.unwind());
        }
        return { ...(done[0]?.result as CniResult), cniVersion: req.cniVersion };
      });
    },

    async del(req) {
      const { cacheDir } = req.config;
      const cached = await readCache(cacheDir, req.containerId, req.ifName);
      const pod = cached?.pod ?? podOf(req);
      // DEL must succeed without the datastore: it is used only to resolve a missing cache and to
      // remove the network-status, and a failure there is not DEL's.
      let store: Datastore | undefined;
      try {
        store = deps.openStore(req.config.datastore, req.config.etcdTls);
      } catch {
        store = undefined;
      }
      try {
        // No cache (ADD never got to write it, or the node lost it): what the pod's annotation
        // asks for now, or at least the cluster network when that cannot be read.
        const fallback = async (): Promise<CachedAttachments> => {
          const plans = store
            ? await resolvePlans(req, pod, store).catch(() =>
                resolvePlans(req, undefined, store as Datastore),
              )
            : planAttachments({ list: req.config.clusterNetwork, ifName: req.ifName, runtimeConfig: {} }, []);
          return { attachments: plans.map((plan) => ({ plan })) };
        };
        await delAttachments(req, cached ?? (await fallback()));
        if (pod && store)
          await new PodAnnotationStore(store).remove(pod, networkStatusAnnotation).catch(() => false);
        await removeCache(cacheDir, req.containerId, req.ifName);
      } finally {
        await store?.close().catch(() => undefined);
      }
    },

    async check(req) {
      const cached = await readCache(req.config.cacheDir, req.containerId, req.ifName);
      if (!cached)
        throw new CniError(
          CniErrorCode.StateMismatch,
          `no attachments recorded for ${req.containerId}/${req.ifName}`,
          "the ADD did not complete on this node: delete and re-add the pod",
        );
      for (const a of cached.attachments) {
        if (a.plan.list.disableCheck) continue;
        await runList("CHECK", req, a.plan, a.result, linked, req.config.nodeName);
      }
    },

    async gc(req) {
      // Secondary networks: a container the runtime no longer lists gets the DEL of what ADD
      // attached (from its cache), so their IPAM frees its addresses too.
      const valid = new Set(req.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
      let first: unknown;
      for (const c of await listCached(req.config.cacheDir)) {
        if (valid.has(`${c.containerId}/${c.ifName}`)) continue;
        const cached = await readCache(req.config.cacheDir, c.containerId, c.ifName);
        const own: Req = { ...req, containerId: c.containerId, ifName: c.ifName, netns: cached?.netns ?? "" };
        try {
          if (cached) await delAttachments(own, cached);
          await removeCache(req.config.cacheDir, c.containerId, c.ifName);
        } catch (err) {
          first ??= err;
        }
      }
      // The cluster network: the runtime's list as is (GC exists from cniVersion 1.1.0).
      await passOn(req, "GC");
      if (first !== undefined) throw first;
    },

    status: (req) => passOn(req, "STATUS"),
  };

  /** GC or STATUS to every plugin of the cluster network's list (delegated plugins must get both). */
  async function passOn(req: Req, command: "GC" | "STATUS"): Promise<void> {
    const list = req.config.clusterNetwork;
    if (!atLeast(list.cniVersion, "1.1.0")) return;
    for (const plugin of list.plugins) {
      const raw: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
      if (command === "GC") raw["cni.dev/valid-attachments"] = req.validAttachments;
      await runDelegate(
        String(plugin.type),
        command,
        { ...req, raw, cniVersion: list.cniVersion, network: list.name },
        linked,
      );
    }
  }
}
