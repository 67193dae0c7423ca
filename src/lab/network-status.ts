import { type Kernel, namedNetns } from "../kernel/api.js";
import { networkStatusAnnotation } from "../netattach/annotation.js";
import type { NetworkStatus } from "../netattach/network-status.js";
import { labPodNamespace } from "./secondary-networks.js";
import type { LabState } from "./state.js";

/**
 * The `k8s.v1.cni.cncf.io/network-status` the meta plugin wrote for each pod, read with `strata
 * pod annotations` from the first node (the one path that reaches both the embedded store and
 * the lab's etcd on the underlay). Empty without `--attach`.
 */
export async function labNetworkStatus(
  kernel: Kernel,
  state: LabState,
  cli: { readonly nodePath: string; readonly cliScript: string },
): Promise<Record<string, readonly NetworkStatus[]>> {
  const node = state.nodes[0];
  if (!state.spec.attach?.length || !node || state.pods.length === 0) return {};
  const refs = state.pods.map((p) => `${labPodNamespace}/${p.name}`);
  const r = await kernel.exec(namedNetns(node.ns), [
    cli.nodePath,
    cli.cliScript,
    ...["pod", "annotations", ...refs, "-o", "json"],
    ...state.agentDatastoreArgs,
  ]);
  if (r.code !== 0) return {};
  const all = JSON.parse(r.stdout) as Record<string, Record<string, string>>;
  const out: Record<string, readonly NetworkStatus[]> = {};
  for (const p of state.pods) {
    const text = all[`${labPodNamespace}/${p.name}`]?.[networkStatusAnnotation];
    if (text === undefined) continue;
    try {
      out[p.name] = JSON.parse(text) as NetworkStatus[];
    } catch {
      // an unreadable annotation is shown as missing
    }
  }
  return out;
}

/** Pure: one line per network of each pod, as people read network-status. */
export function formatNetworkStatus(all: Readonly<Record<string, readonly NetworkStatus[]>>): string[] {
  const lines: string[] = [];
  for (const [pod, list] of Object.entries(all))
    for (const s of list)
      lines.push(
        `${pod.padEnd(10)} ${s.interface.padEnd(6)} ${s.name.padEnd(22)} ${s.ips.join(",").padEnd(16)} ${(s.mac ?? "-").padEnd(17)}${s.default ? " default" : ""}`,
      );
  return lines;
}
