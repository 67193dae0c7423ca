/**
 * Egress masquerade for traffic leaving the cluster CIDR, as one nftables table owned by Strata.
 * The whole table is replaced in one `nft -f` transaction (add-then-delete-then-define), so there
 * is never a moment without the rule and nothing outside the table is touched.
 */
export const masqueradeTable = "strata-nat";

export function masqueradeRuleset(clusterCidr: string, family: "ip" | "ip6" = "ip"): string {
  return [
    // "add table" makes the following "delete table" safe when the table does not exist yet.
    `add table ${family} ${masqueradeTable}`,
    `delete table ${family} ${masqueradeTable}`,
    `table ${family} ${masqueradeTable} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    // Pod-to-pod and pod-to-cluster traffic keeps its source; only egress leaving the cluster is rewritten.
    `    ${family} saddr ${clusterCidr} ${family} daddr != ${clusterCidr} masquerade fully-random`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Pure: the masquerade tables for each of the cluster's CIDRs, one per family (`ip` for IPv4,
 * `ip6` for IPv6: IPv6-only and dual-stack pods leaving the cluster are masqueraded too), in one
 * `nft -f` input.
 */
export const clusterMasquerade = (clusterCidrs: readonly string[]): string =>
  clusterCidrs.map((cidr) => masqueradeRuleset(cidr, cidr.includes(":") ? "ip6" : "ip")).join("");
