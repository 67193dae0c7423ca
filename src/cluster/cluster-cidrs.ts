import ipaddr from "ipaddr.js";
import { canonicalCidr } from "../common/cidr.js";
import { StrataError } from "../common/errors.js";

/** A cluster CIDR list that Strata cannot use, saying what to write instead. */
export class ClusterCidrError extends StrataError {
  constructor(what: string) {
    super("cluster.cidr", `--cluster-cidr: ${what}`);
  }
}

/**
 * The cluster's pod networks: IPv4 alone, both (dual stack), or IPv6 alone (an IPv6-only cluster,
 * Flannel's EnableIPv4=false/EnableIPv6=true). At least one is present.
 */
export type ClusterCidrs =
  | { readonly ipv4: string; readonly ipv6?: string }
  | { readonly ipv4?: undefined; readonly ipv6: string };

/**
 * The family a node's lease and pods are numbered in first (NodeLease.subnet): IPv4 on an IPv4 or
 * dual-stack cluster, IPv6 on an IPv6-only one.
 */
export const primaryClusterCidr = (c: ClusterCidrs): string => c.ipv4 ?? c.ipv6;

const example = "10.244.0.0/16,fd00:10:244::/56";

/**
 * Pure: `--cluster-cidr` the Kubernetes way (kube-controller-manager's --cluster-cidr): one CIDR,
 * or a comma list with at most one per family. An IPv4 CIDR is kept as written (as before dual
 * stack); an IPv6 one must be a network address. IPv6 alone is an IPv6-only cluster.
 */
export function parseClusterCidrs(text: string): ClusterCidrs {
  const items = text.split(",").map((s) => s.trim());
  if (items.length > 2)
    throw new ClusterCidrError(
      `"${text}" lists ${items.length} CIDRs: at most one IPv4 and one IPv6 (e.g. ${example})`,
    );
  let ipv4: string | undefined;
  let ipv6: string | undefined;
  for (const item of items) {
    if (!ipaddr.isValidCIDR(item))
      throw new ClusterCidrError(`"${item}" is not a prefix ADDRESS/LEN (e.g. 10.244.0.0/16, or ${example})`);
    const [addr] = ipaddr.parseCIDR(item);
    if (addr.kind() === "ipv4") {
      if (ipv4) throw new ClusterCidrError(`"${text}" has two IPv4 CIDRs: at most one per family`);
      ipv4 = item;
      continue;
    }
    if (ipv6) throw new ClusterCidrError(`"${text}" has two IPv6 CIDRs: at most one per family`);
    // Written canonically (RFC 5952) from here on: leases compare subnets as text.
    const canonical = canonicalCidr(item);
    if (canonical.split("/")[0] !== addr.toString())
      throw new ClusterCidrError(`"${item}" has host bits set (${canonical}?)`);
    ipv6 = canonical;
  }
  if (ipv4) return { ipv4, ...(ipv6 ? { ipv6 } : {}) };
  if (ipv6) return { ipv6 };
  throw new ClusterCidrError(`"${text}" names no CIDR (e.g. ${example})`);
}

/**
 * Pure: the per-node IPv6 prefix length (`--subnet-len6`, default 64 like Kubernetes'
 * --node-cidr-mask-size-ipv6 and Flannel's IPv6SubnetLen) checked against the IPv6 cluster CIDR:
 * inside it, at most 16 bits longer (as kube-controller-manager requires: 65,536 node subnets),
 * and room for pods and a gateway.
 */
export function checkSubnetLen6(clusterCidr6: string, subnetLen6: number): number {
  const prefix = ipaddr.parseCIDR(clusterCidr6)[1];
  if (!Number.isInteger(subnetLen6) || subnetLen6 < prefix || subnetLen6 > 126)
    throw new ClusterCidrError(
      `--subnet-len6 ${subnetLen6} must be a whole number from ${prefix} (the IPv6 cluster CIDR's length) to 126`,
    );
  if (subnetLen6 - prefix > 16)
    throw new ClusterCidrError(
      `--subnet-len6 ${subnetLen6} is more than 16 bits longer than the IPv6 cluster CIDR ${clusterCidr6} (at most /${prefix + 16}, or a shorter cluster prefix)`,
    );
  return subnetLen6;
}
