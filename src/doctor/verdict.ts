import type { StopReason } from "../lab/trace/stop-reasons.js";

/**
 * Why a check is not ok, as a stable code. Where `strata lab trace` names the same fault (its stop
 * reasons, lab/trace/stop-reasons.ts) doctor uses the very same code, so a script reading both
 * sees one vocabulary; the rest are things only doctor looks at.
 */
export type DoctorReason =
  | Extract<
      StopReason["kind"],
      | "pod-route-missing"
      | "vtep-neighbour-missing"
      | "fdb-missing"
      | "mtu-exceeded"
      | "bgp-session-down"
      | "spoofed-source"
    >
  | "agent-unreachable"
  | "agent-unhealthy"
  | "reconcile-stale"
  | "underlay-unreachable"
  | "mtu-config"
  | "vxlan-port-blocked"
  | "vxlan-checksum-offload"
  | "tunnel-device-missing"
  | "tunnel-peer-map"
  | "tunnel-proto-blocked"
  | "rp-filter-drop"
  | "bgp-local-address-missing"
  | "lease-overlap"
  | "lease-expiring"
  | "ipam-orphan"
  | "state-dir";

/** The checks doctor runs, in the order it prints them. */
export const doctorChecks = [
  "agent health",
  "reconcile",
  "pod MTU",
  "DF probes",
  "routes to peers",
  "vxlan entries",
  "vxlan port",
  "tunnel",
  "checksum offload",
  "rp_filter",
  "source guard",
  "bgp sessions",
  "leases",
  "ipam",
  "underlay link",
] as const;
export type DoctorCheck = (typeof doctorChecks)[number];

/** One line of doctor's answer: a check on a node, ok or the problem and how to fix it. */
export interface Verdict {
  readonly check: DoctorCheck;
  readonly node: string;
  readonly ok: boolean;
  /** ok: what was proven; not ok: what is wrong. */
  readonly text: string;
  readonly reason?: DoctorReason;
  readonly fix?: string;
  /** The other node the verdict is about, when there is one. */
  readonly peer?: string;
  /** The check could not run (missing input): neither ok nor a problem of the network. */
  readonly skipped?: boolean;
}

export const ok = (check: DoctorCheck, node: string, text: string): Verdict => ({
  check,
  node,
  ok: true,
  text,
});

export const problem = (
  check: DoctorCheck,
  node: string,
  reason: DoctorReason,
  text: string,
  fix: string,
  peer?: string,
): Verdict => ({ check, node, ok: false, reason, text, fix, ...(peer ? { peer } : {}) });

export const skipped = (check: DoctorCheck, node: string, text: string): Verdict => ({
  check,
  node,
  ok: true,
  skipped: true,
  text,
});
