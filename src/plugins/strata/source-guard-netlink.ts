/**
 * The source guard of source-guard-plan.ts as nf_tables netlink messages (pure): the same table,
 * sets, counters, chains and rules, expression for expression what nft 1.0.6 sends for
 * `guardTableScript`, `allowScript` and `forgetScript` (checked against its bytes and against
 * `nft list table` of both in source-guard-netlink*.test.ts). apply-side: source-guard-writer.ts.
 */
import type { NfMessage } from "../../kernel/nftables/codec.js";
import {
  bitwiseMask,
  cmpEq,
  counterRef,
  lookup,
  metaLoad,
  payloadLoad,
  verdict,
} from "../../kernel/nftables/expressions.js";
import { addressKey, concatKey, concatType, ifnameKey, nftType } from "../../kernel/nftables/keys.js";
import {
  addChain,
  addCounter,
  addRule,
  addSet,
  addTable,
  flushChain,
  hookPrerouting,
  type SetSpec,
  setElements,
} from "../../kernel/nftables/objects.js";
import {
  type GuardFamily,
  type PortSources,
  type SpoofCounterKind,
  sourceGuardTable,
  spoofCounterKinds,
} from "./source-guard-plan.js";

const t = sourceGuardTable;
const hex = (h: string) => Buffer.from(h, "hex");

/** The named sets, with the ids later messages of the table's batch find them by. */
const portsSet: SetSpec = {
  name: "ports",
  keyType: nftType.ifname,
  keyLen: 16,
  id: 1,
  userdata: hex("000401000000"),
};
// nft's userdata of an `ifname . ipvN_addr` set (its key byte order and concatenation record).
const concatUserdata = hex("000400000000030800040d0000000100");
const v4Set: SetSpec = {
  name: "v4",
  keyType: concatType(nftType.ifname, nftType.ipv4Addr),
  keyLen: 20,
  id: 2,
  userdata: concatUserdata,
};
const v6Set: SetSpec = {
  name: "v6",
  keyType: concatType(nftType.ifname, nftType.ipv6Addr),
  keyLen: 32,
  id: 3,
  userdata: concatUserdata,
};
/** `icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report }`, anonymous. */
const icmpv6Types = [135, 131, 143];
const icmpv6Set: SetSpec = {
  name: "__set%d",
  keyType: nftType.icmpv6Type,
  keyLen: 1,
  id: 4,
  userdata: hex("0004020000000314000407000000010c00040e000000010401000000"),
  anonymousSize: icmpv6Types.length,
};

const counterName = (kind: SpoofCounterKind) => `spoofed_${kind}`;

const ethertype = { ipv4: "0800", ipv6: "86dd", arp: "0806" } as const;
const nfprotoOf = { ipv4: 2, ipv6: 10 } as const;

/** `ether type X` (a bridge table's frames), in register 1. */
const etherType = (l3: keyof typeof ethertype) => [
  payloadLoad("link", 12, 2, 1),
  cmpEq(1, hex(ethertype[l3])),
];

/** `ether type X` (bridge) or `meta nfproto X` (inet), in register 1. */
const l3Match = (family: GuardFamily, l3: "ipv4" | "ipv6") =>
  family === "bridge" ? etherType(l3) : [metaLoad("nfproto", 1), cmpEq(1, Uint8Array.of(nfprotoOf[l3]))];

const accept = verdict({ kind: "accept" });
const drop = verdict({ kind: "drop" });
const v6saddr = () => payloadLoad("network", 8, 16, 1);

/** The shared table: what `guardTableScript(family)` writes, in the same order. */
export function guardTableMessages(family: GuardFamily): NfMessage[] {
  const kinds: readonly SpoofCounterKind[] = family === "bridge" ? spoofCounterKinds : ["ipv4", "ipv6"];
  const rule = (chain: string, text: string, ...e: Parameters<typeof addRule>[3]) =>
    addRule(family, t, chain, e, text);
  const guard = (text: string, ...e: Parameters<typeof addRule>[3]) => rule("guard", text, ...e);
  const messages: NfMessage[] = [
    addTable(family, t),
    addSet(family, t, portsSet),
    addSet(family, t, v4Set),
    addSet(family, t, v6Set),
    ...kinds.map((k) => addCounter(family, t, counterName(k))),
    addChain(family, t, "prerouting", {
      type: "filter",
      hook: hookPrerouting,
      priority: -300,
      policy: "accept",
    }),
    addChain(family, t, "guard"),
    flushChain(family, t, "prerouting"),
    flushChain(family, t, "guard"),
    rule(
      "prerouting",
      "iifname @ports jump guard",
      metaLoad("iifname", 1),
      lookup(1, portsSet.name, portsSet.id),
      verdict({ kind: "jump", chain: "guard" }),
    ),
    guard(
      "ipv4 iifname . ip saddr @v4 accept",
      ...l3Match(family, "ipv4"),
      metaLoad("iifname", 1),
      payloadLoad("network", 12, 4, 2),
      lookup(1, v4Set.name, v4Set.id),
      accept,
    ),
    guard(
      "ipv4 counter spoofed_ipv4 drop",
      ...l3Match(family, "ipv4"),
      counterRef(counterName("ipv4")),
      drop,
    ),
    guard(
      "ip6 saddr fe80::/10 accept",
      ...l3Match(family, "ipv6"),
      v6saddr(),
      bitwiseMask(1, hex("ffc00000000000000000000000000000")),
      cmpEq(1, hex("fe800000000000000000000000000000")),
      accept,
    ),
    guard(
      "iifname . ip6 saddr @v6 accept",
      ...l3Match(family, "ipv6"),
      metaLoad("iifname", 1),
      payloadLoad("network", 8, 16, 2),
      lookup(1, v6Set.name, v6Set.id),
      accept,
    ),
    addSet(family, t, icmpv6Set),
    setElements(
      "add",
      family,
      t,
      icmpv6Set.name,
      icmpv6Types.map((ty) => Uint8Array.of(ty)),
      icmpv6Set.id,
    ),
    guard(
      "ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } accept",
      ...l3Match(family, "ipv6"),
      v6saddr(),
      cmpEq(1, new Uint8Array(16)),
      metaLoad("l4proto", 1),
      cmpEq(1, Uint8Array.of(58)),
      payloadLoad("transport", 0, 1, 1),
      lookup(1, icmpv6Set.name, icmpv6Set.id),
      accept,
    ),
    guard(
      "ipv6 counter spoofed_ipv6 drop",
      ...l3Match(family, "ipv6"),
      counterRef(counterName("ipv6")),
      drop,
    ),
  ];
  if (family === "bridge") {
    messages.push(
      guard(
        "ether type arp arp saddr ip 0.0.0.0 accept",
        ...etherType("arp"),
        payloadLoad("network", 14, 4, 1),
        cmpEq(1, new Uint8Array(4)),
        accept,
      ),
      guard(
        "ether type arp iifname . arp saddr ip @v4 accept",
        ...etherType("arp"),
        metaLoad("iifname", 1),
        payloadLoad("network", 14, 4, 2),
        lookup(1, v4Set.name, v4Set.id),
        accept,
      ),
      guard(
        "ether type arp counter spoofed_arp drop",
        ...etherType("arp"),
        counterRef(counterName("arp")),
        drop,
      ),
      guard("counter spoofed_other drop", counterRef(counterName("other")), drop),
    );
  }
  return messages;
}

/**
 * One message per set for these ports' elements (an absent kind left out): `ports`, then `v4`,
 * then `v6`, as nft orders the lines of allowScript. Throws SetKeyError for a name or address that
 * cannot be a key.
 */
function elementMessages(
  verb: "add" | "delete",
  family: GuardFamily,
  sources: readonly PortSources[],
): NfMessage[] {
  const ports = sources.map((s) => ifnameKey(s.port));
  const v4 = sources.flatMap((s) => s.v4.map((a) => concatKey(ifnameKey(s.port), addressKey(a, "ipv4"))));
  const v6 = sources.flatMap((s) => s.v6.map((a) => concatKey(ifnameKey(s.port), addressKey(a, "ipv6"))));
  return [
    ...(ports.length ? [setElements(verb, family, t, portsSet.name, ports)] : []),
    ...(v4.length ? [setElements(verb, family, t, v4Set.name, v4)] : []),
    ...(v6.length ? [setElements(verb, family, t, v6Set.name, v6)] : []),
  ];
}

/** allowScript as messages: add the ports and their sources (adding present ones is a no-op). */
export const allowMessages = (family: GuardFamily, s: PortSources): NfMessage[] =>
  elementMessages("add", family, [s]);

/**
 * forgetScript as messages, for any number of ports: add, then delete, in one transaction, so
 * elements already absent are no error (nf_tables of this kernel has no `destroy` in nft 1.0.6).
 */
export const forgetMessages = (family: GuardFamily, sources: readonly PortSources[]): NfMessage[] => [
  ...elementMessages("add", family, sources),
  ...elementMessages("delete", family, sources),
];
