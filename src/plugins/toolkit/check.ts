import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniResult } from "../../cni/result.js";
import type { CniRequest } from "../../cni/skeleton.js";
import type { Kernel, Link, Netns } from "../../kernel/api.js";

/**
 * CHECK (CNI 1.1.0 §"CHECK"): the plugin "must consult the prevResult to determine the expected
 * interfaces and addresses" and fail when they are not there. The checks every main plugin shares
 * live here; a plugin adds its own (host side, bridge port, firewall) with `stateMismatch`.
 */

/** CHECK found the attachment differs from its ADD result (Strata's 103): DEL and ADD repairs it. */
export function stateMismatch(what: string): CniError {
  return new CniError(
    CniErrorCode.StateMismatch,
    `CHECK failed: ${what}`,
    "DEL and ADD the attachment again",
  );
}

/** The runtime must pass the ADD result to CHECK ("Runtime MUST include prevResult"); code 7 else. */
export function requirePrevResult(req: CniRequest<unknown>): CniResult {
  if (!req.prevResult) {
    throw new CniError(
      CniErrorCode.InvalidNetworkConfig,
      "CHECK needs prevResult",
      "the runtime must pass the ADD result",
    );
  }
  return req.prevResult;
}

/**
 * The addresses prevResult gives the pod interface `ifName`: those naming its index in
 * `interfaces` (the entry with that name and a sandbox), and those naming no interface.
 */
export function expectedAddresses(prev: CniResult, ifName: string): string[] {
  const index = prev.interfaces?.findIndex((i) => i.name === ifName && i.sandbox !== undefined) ?? -1;
  return (prev.ips ?? [])
    .filter((ip) => ip.interface === undefined || ip.interface === index)
    .map((ip) => ip.address);
}

export interface PodInterfaceExpectation {
  readonly netns: Netns;
  /** CNI_NETNS, for messages. */
  readonly netnsPath: string;
  readonly ifName: string;
  readonly prevResult: CniResult;
  /** The MTU the configuration asks for, when it asks for one. */
  readonly mtu?: number;
}

/**
 * The pod side against prevResult: the interface exists and is up, holds every address prevResult
 * gives it, has the configured MTU, and every route of prevResult is on it. Throws `stateMismatch`
 * naming the first difference; returns the link for a plugin's own checks.
 */
export async function checkPodInterface(kernel: Kernel, e: PodInterfaceExpectation): Promise<Link> {
  const pod = await kernel.link(e.netns, e.ifName).catch(() => undefined);
  if (!pod) throw stateMismatch(`interface ${e.ifName} is missing in ${e.netnsPath}`);
  if (!pod.up) throw stateMismatch(`interface ${e.ifName} is down`);
  const addrs = new Set((await kernel.addresses(e.netns, e.ifName)).map((a) => a.cidr));
  for (const address of expectedAddresses(e.prevResult, e.ifName)) {
    if (!addrs.has(address)) throw stateMismatch(`address ${address} is missing on ${e.ifName}`);
  }
  if (e.mtu && pod.mtu !== e.mtu) throw stateMismatch(`${e.ifName} has MTU ${pod.mtu}, expected ${e.mtu}`);
  const routes = await kernel.routes(e.netns, { dev: e.ifName });
  for (const r of e.prevResult.routes ?? []) {
    // The kernel lists a default route as "default".
    const dst = r.dst === "0.0.0.0/0" || r.dst === "::/0" ? "default" : r.dst;
    if (!routes.some((x) => x.dst === dst || x.dst === r.dst))
      throw stateMismatch(`route to ${r.dst} is missing`);
  }
  return pod;
}
