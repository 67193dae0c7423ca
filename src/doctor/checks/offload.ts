import type { NodeFacts } from "../facts.js";
import { ok, problem, skipped, type Verdict } from "../verdict.js";
import { modelOf, vxlanLink } from "./model.js";

/** Kernels before 5.7 corrupt the UDP checksum of offloaded VXLAN packets that are SNATed (MASQUERADE --random-fully). */
const fixedIn = [5, 7] as const;

/** Pure: "6.1.0-18-amd64" → [6, 1]. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Pure: the VXLAN checksum-offload problem (kubernetes#88986, calico#3145: a 63 s stall). With
 * tx-checksum-ip-generic on and a kernel before 5.7, VXLAN packets whose outer header is NATed
 * leave with a wrong UDP checksum and the receiver drops them; Calico turns the offload off on
 * such kernels (felix#2811), Flannel documents `ethtool -K flannel.1 tx-checksum-ip-generic off`.
 */
export function checkChecksumOffload(f: NodeFacts): Verdict[] {
  const model = modelOf(f);
  if (model !== "vxlan" && model !== "vxlan-crosssubnet") return [];
  const dev = vxlanLink(f);
  if (!dev) return []; // vxlan entries names the missing device
  const features = f.kernel.offload?.[dev.name];
  if (!features)
    return [
      skipped(
        "checksum offload",
        f.node,
        `offload settings of ${dev.name} not read${f.kernel.offloadError ? `: ${f.kernel.offloadError}` : ""}`,
      ),
    ];
  const on = features["tx-checksum-ip-generic"] ?? features["tx-checksumming"] ?? false;
  const v = kernelVersion(f.kernel.release);
  const oldKernel = !v || v[0] < fixedIn[0] || (v[0] === fixedIn[0] && v[1] < fixedIn[1]);
  if (on && oldKernel)
    return [
      problem(
        "checksum offload",
        f.node,
        "vxlan-checksum-offload",
        `tx checksum offload is on for ${dev.name} and kernel ${f.kernel.release} predates 5.7: NATed VXLAN packets leave with a bad UDP checksum and are dropped (63 s stalls)`,
        `ethtool -K ${dev.name} tx-checksum-ip-generic off (again after the device is re-created), or a kernel ≥ 5.7`,
      ),
    ];
  return [
    ok(
      "checksum offload",
      f.node,
      on
        ? `tx checksum offload on for ${dev.name}; kernel ${f.kernel.release} has the fix (≥ 5.7)`
        : `tx checksum offload off for ${dev.name}`,
    ),
  ];
}
