import { parseCniArgs } from "../../cni/args.js";
import { type DelegateOptions, delegateAdd, runDelegate } from "../../cni/delegate.js";
import { CniError } from "../../cni/errors.js";
import { type CniResult, convertResult } from "../../cni/result.js";
import type { CniCommand, CniRequest } from "../../cni/skeleton.js";
import type { AttachmentPlan } from "./plan.js";

type Verb = Exclude<CniCommand, "VERSION" | "ADD">;

/**
 * The request one plugin of an attachment's list receives (CNI 1.1.0, "Network configuration list
 * runtime semantics"): the plugin's keys with the list's cniVersion and name, runtimeConfig for
 * the capabilities it declares, prevResult in the list's version, the attachment's interface.
 * CNI_ARGS are the pod's, plus IgnoreUnknown (as Multus sets it, so plugins that parse CNI_ARGS
 * strictly accept the extra keys) and this node's name for cluster IPAM.
 */
function delegateRequest(
  req: CniRequest<unknown>,
  plan: AttachmentPlan,
  plugin: Readonly<Record<string, unknown>>,
  command: CniRequest<unknown>["command"],
  prevResult: CniResult | undefined,
  nodeName: string | undefined,
): CniRequest<unknown> {
  const caps = (plugin.capabilities as Record<string, unknown> | undefined) ?? {};
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, value] of Object.entries(plan.capabilityArgs))
    if (caps[cap] === true && value !== undefined) runtimeConfig[cap] = value;
  const raw: Record<string, unknown> = { ...plugin, cniVersion: plan.list.cniVersion, name: plan.list.name };
  if (Object.keys(runtimeConfig).length > 0) raw.runtimeConfig = runtimeConfig;
  if (plan.cniArgs) raw.args = { ...((plugin.args as object | undefined) ?? {}), cni: plan.cniArgs };
  if (prevResult) raw.prevResult = convertResult(prevResult, plan.list.cniVersion);
  const args = {
    ...req.args.all,
    IgnoreUnknown: "true",
    ...(nodeName ? { STRATA_NODE_NAME: nodeName } : {}),
  };
  return {
    command,
    containerId: req.containerId,
    netns: req.netns,
    ifName: plan.ifName,
    args: parseCniArgs(
      Object.entries(args)
        .map(([k, v]) => `${k}=${v}`)
        .join(";"),
    ),
    cniPath: req.cniPath,
    cniVersion: plan.list.cniVersion,
    network: plan.list.name,
    config: undefined,
    raw,
    ...(prevResult ? { prevResult } : {}),
    runtimeConfig,
    validAttachments: [],
  };
}

/** Name the attachment in a delegate's error, keeping its code. */
const inAttachment = (plan: AttachmentPlan, err: unknown): unknown =>
  err instanceof CniError
    ? new CniError(err.cniCode, `network ${plan.name} (${plan.ifName}): ${err.message}`, err.details, {
        cause: err,
      })
    : err;

/** ADD every plugin of the list in order, each with the previous one's result. */
export async function addList(
  req: CniRequest<unknown>,
  plan: AttachmentPlan,
  opts: DelegateOptions,
  nodeName: string | undefined,
): Promise<CniResult> {
  let prev: CniResult | undefined;
  try {
    for (const plugin of plan.list.plugins) {
      const type = String(plugin.type);
      prev = await delegateAdd(type, delegateRequest(req, plan, plugin, "ADD", prev, nodeName), opts);
    }
  } catch (err) {
    throw inAttachment(plan, err);
  }
  return prev as CniResult;
}

/**
 * DEL (in reverse) or CHECK (in order) every plugin of the list, with the attachment's ADD result
 * as prevResult. DEL goes through every plugin even when one fails, so one refusal does not leave
 * the others' state behind; the first failure is thrown afterwards.
 */
export async function runList(
  command: Extract<Verb, "DEL" | "CHECK">,
  req: CniRequest<unknown>,
  plan: AttachmentPlan,
  prevResult: CniResult | undefined,
  opts: DelegateOptions,
  nodeName: string | undefined,
): Promise<void> {
  const plugins = command === "DEL" ? [...plan.list.plugins].reverse() : plan.list.plugins;
  let first: unknown;
  for (const plugin of plugins) {
    try {
      await runDelegate(
        String(plugin.type),
        command,
        delegateRequest(req, plan, plugin, command, prevResult, nodeName),
        opts,
      );
    } catch (err) {
      if (command === "CHECK") throw inAttachment(plan, err);
      first ??= err;
    }
  }
  if (first !== undefined) throw inAttachment(plan, first);
}
