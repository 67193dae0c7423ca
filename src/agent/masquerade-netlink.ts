/**
 * The masquerade tables of masquerade.ts as nf_tables netlink messages (pure): the same tables,
 * chain and rule, expression for expression what nft 1.0.6 sends for `clusterMasquerade` (checked
 * against `nft list table` of both in masquerade-netlink.netns.test.ts). One batch is one
 * transaction, as one `nft -f` is: add-then-delete-then-define, so the rule is never missing.
 */
import { parseCidr } from "../common/cidr.js";
import type { Attr, NfFamily, NfMessage } from "../kernel/nftables/codec.js";
import {
  bitwiseMask,
  cmpEq,
  cmpNeq,
  masq,
  masqFullyRandom,
  payloadLoad,
} from "../kernel/nftables/expressions.js";
import { addChain, addRule, addTable, deleteTable, hookPostrouting } from "../kernel/nftables/objects.js";
import { masqueradeTable } from "./masquerade.js";

/** nft's `srcnat` priority. */
const srcnat = 100;

/**
 * `ip saddr CIDR` (or daddr, `!=`), as nft writes a prefix match: a byte-aligned prefix loads only
 * its own bytes; any other loads the whole address and masks it.
 */
function prefixMatch(cidr: string, field: "saddr" | "daddr", equal: boolean): Attr[] {
  const { addr, prefix } = parseCidr(cidr);
  const v6 = addr.kind() === "ipv6";
  const width = v6 ? 16 : 4;
  const offset = (v6 ? 8 : 12) + (field === "daddr" ? width : 0);
  const mask = Array.from({ length: width }, (_, i) => {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    return (0xff << (8 - bits)) & 0xff;
  });
  const network = Uint8Array.from(addr.toByteArray(), (b, i) => b & (mask[i] ?? 0));
  const compare = equal ? cmpEq : cmpNeq;
  if (prefix % 8 === 0) {
    const len = prefix / 8;
    return [payloadLoad("network", offset, len, 1), compare(1, network.subarray(0, len))];
  }
  return [
    payloadLoad("network", offset, width, 1),
    bitwiseMask(1, Uint8Array.from(mask)),
    compare(1, network),
  ];
}

/** One family's table: replaced whole, with its postrouting chain and the one rule. */
export function masqueradeMessages(clusterCidr: string): NfMessage[] {
  const v6 = clusterCidr.includes(":");
  const family: NfFamily = v6 ? "ipv6" : "ipv4";
  const word = v6 ? "ip6" : "ip";
  const t = masqueradeTable;
  return [
    // Added first so that the delete finds it; then made again from nothing.
    addTable(family, t),
    deleteTable(family, t),
    addTable(family, t),
    addChain(family, t, "postrouting", {
      type: "nat",
      hook: hookPostrouting,
      priority: srcnat,
      policy: "accept",
    }),
    addRule(
      family,
      t,
      "postrouting",
      [
        ...prefixMatch(clusterCidr, "saddr", true),
        ...prefixMatch(clusterCidr, "daddr", false),
        masq(masqFullyRandom),
      ],
      `${word} saddr ${clusterCidr} ${word} daddr != ${clusterCidr} masquerade fully-random`,
    ),
  ];
}

/** Every cluster CIDR's table (`clusterMasquerade`'s), in one batch. */
export const clusterMasqueradeMessages = (clusterCidrs: readonly string[]): NfMessage[] =>
  clusterCidrs.flatMap(masqueradeMessages);
