/**
 * nf_tables objects as batch messages (pure): tables, base and regular chains, sets (named and
 * anonymous), named counters, rules, a chain's flush, and set elements. Flags as `nft` sends
 * them for `add`: NLM_F_CREATE without NLM_F_EXCL, so adding what exists is no error and changes
 * nothing (a counter keeps its count; an element its place).
 */
import {
  type Attr,
  be32,
  be64,
  bytes,
  type NfFamily,
  type NfMessage,
  nest,
  nftMsg,
  nlmF,
  strz,
} from "./codec.js";
import { dataValue } from "./expressions.js";

/** nft's word for a family ("ip", not "ipv4"). */
const familyWord: Record<NfFamily, string> = {
  unspec: "unspec",
  inet: "inet",
  ipv4: "ip",
  bridge: "bridge",
  ipv6: "ip6",
};
const ref = (family: NfFamily, table: string, what: string) => `${what} ${familyWord[family]} ${table}`;

/** `add table FAMILY NAME` (nft sends it without NLM_F_CREATE; the kernel makes it if absent). */
export const addTable = (family: NfFamily, table: string): NfMessage => ({
  type: nftMsg.newTable,
  flags: 0,
  family,
  attrs: [strz(1 /* NFTA_TABLE_NAME */, table), be32(2 /* NFTA_TABLE_FLAGS */, 0)],
  what: ref(family, table, "add table"),
});

/** `delete table FAMILY NAME`: the table and everything in it (an absent one fails the batch). */
export const deleteTable = (family: NfFamily, table: string): NfMessage => ({
  type: nftMsg.delTable,
  flags: 0,
  family,
  attrs: [strz(1 /* NFTA_TABLE_NAME */, table)],
  what: ref(family, table, "delete table"),
});

/** NF_INET_PRE_ROUTING and NF_BR_PRE_ROUTING are both 0. */
export const hookPrerouting = 0;
/** NF_INET_POST_ROUTING. */
export const hookPostrouting = 4;

export interface BaseChain {
  readonly type: "filter" | "nat";
  readonly hook: number;
  readonly priority: number;
  readonly policy: "accept" | "drop";
}

/** `add chain FAMILY TABLE NAME [{ type .. hook .. priority ..; policy ..; }]` */
export function addChain(family: NfFamily, table: string, name: string, base?: BaseChain): NfMessage {
  const hook: Attr[] = base
    ? [
        strz(7 /* NFTA_CHAIN_TYPE */, base.type),
        be32(5 /* NFTA_CHAIN_POLICY */, base.policy === "accept" ? 1 : 0),
        nest(4 /* NFTA_CHAIN_HOOK */, [
          be32(1 /* NFTA_HOOK_HOOKNUM */, base.hook),
          be32(2 /* NFTA_HOOK_PRIORITY */, base.priority),
        ]),
      ]
    : [];
  return {
    type: nftMsg.newChain,
    flags: nlmF.create,
    family,
    attrs: [strz(1 /* NFTA_CHAIN_TABLE */, table), strz(3 /* NFTA_CHAIN_NAME */, name), ...hook],
    what: `${ref(family, table, "add chain")} ${name}`,
  };
}

/** `flush chain FAMILY TABLE NAME`: delete every rule of the chain. */
export const flushChain = (family: NfFamily, table: string, chain: string): NfMessage => ({
  type: nftMsg.delRule,
  flags: 0,
  family,
  attrs: [strz(1 /* NFTA_RULE_TABLE */, table), strz(2 /* NFTA_RULE_CHAIN */, chain)],
  what: `${ref(family, table, "flush chain")} ${chain}`,
});

/** `add rule FAMILY TABLE CHAIN EXPRESSIONS` (appended: NLM_F_CREATE | NLM_F_APPEND). */
export const addRule = (
  family: NfFamily,
  table: string,
  chain: string,
  expressions: readonly Attr[],
  text: string,
): NfMessage => ({
  type: nftMsg.newRule,
  flags: nlmF.create | nlmF.append,
  family,
  attrs: [
    strz(1 /* NFTA_RULE_TABLE */, table),
    strz(2 /* NFTA_RULE_CHAIN */, chain),
    nest(4 /* NFTA_RULE_EXPRESSIONS */, expressions),
  ],
  what: `${ref(family, table, "add rule")} ${chain} ${text}`,
});

/** `add counter FAMILY TABLE NAME` (NFT_OBJECT_COUNTER, from zero; an existing one keeps its count). */
export const addCounter = (family: NfFamily, table: string, name: string): NfMessage => ({
  type: nftMsg.newObj,
  flags: nlmF.create,
  family,
  attrs: [
    strz(1 /* NFTA_OBJ_TABLE */, table),
    strz(2 /* NFTA_OBJ_NAME */, name),
    be32(3 /* NFTA_OBJ_TYPE */, 1),
    nest(4 /* NFTA_OBJ_DATA */, [
      be64(1 /* NFTA_COUNTER_BYTES */, 0n),
      be64(2 /* NFTA_COUNTER_PACKETS */, 0n),
    ]),
  ],
  what: `${ref(family, table, "add counter")} ${name}`,
});

/** NFT_SET_ANONYMOUS | NFT_SET_CONSTANT */
const anonymousConstant = 0x1 | 0x2;

export interface SetSpec {
  readonly name: string;
  /** The key's datatype id (nft's TYPE_*; a concatenation is `(a << 6) | b`). */
  readonly keyType: number;
  readonly keyLen: number;
  /** NFTA_SET_ID: names the set to later messages of the same batch. */
  readonly id: number;
  /**
   * NFTA_SET_USERDATA: what nft keeps for itself (the key's byte order, its typeof), the
   * bytes nft 1.0.6 writes for this key type, so `nft list` prints the set as nft made it.
   */
  readonly userdata: Uint8Array;
  /** An anonymous constant set of this many elements (`{ a, b, c }` in a rule). */
  readonly anonymousSize?: number;
}

/** `add set FAMILY TABLE NAME { type ...; }`, or the anonymous set of a rule (name `__set%d`). */
export function addSet(family: NfFamily, table: string, s: SetSpec): NfMessage {
  const anon = s.anonymousSize !== undefined;
  return {
    type: nftMsg.newSet,
    flags: nlmF.create,
    family,
    attrs: [
      strz(1 /* NFTA_SET_TABLE */, table),
      strz(2 /* NFTA_SET_NAME */, s.name),
      be32(3 /* NFTA_SET_FLAGS */, anon ? anonymousConstant : 0),
      be32(4 /* NFTA_SET_KEY_TYPE */, s.keyType),
      be32(5 /* NFTA_SET_KEY_LEN */, s.keyLen),
      be32(10 /* NFTA_SET_ID */, s.id),
      ...(anon
        ? [nest(9 /* NFTA_SET_DESC */, [be32(1 /* NFTA_SET_DESC_SIZE */, s.anonymousSize ?? 0)])]
        : []),
      bytes(13 /* NFTA_SET_USERDATA */, s.userdata),
    ],
    what: `${ref(family, table, "add set")} ${s.name}`,
  };
}

/**
 * `add element` / `delete element FAMILY TABLE SET { k1, k2 }`: keys already in the set's
 * layout (setKey). Adding a present element is a no-op (NLM_F_CREATE, no NLM_F_EXCL); deleting
 * an absent one fails the transaction (ENOENT), so an idempotent removal adds first.
 */
export function setElements(
  verb: "add" | "delete",
  family: NfFamily,
  table: string,
  set: string,
  keys: readonly Uint8Array[],
  setId?: number,
): NfMessage {
  return {
    type: verb === "add" ? nftMsg.newSetElem : nftMsg.delSetElem,
    flags: verb === "add" ? nlmF.create : 0,
    family,
    attrs: [
      strz(1 /* NFTA_SET_ELEM_LIST_TABLE */, table),
      strz(2 /* NFTA_SET_ELEM_LIST_SET */, set),
      ...(setId === undefined ? [] : [be32(4 /* NFTA_SET_ELEM_LIST_SET_ID */, setId)]),
      nest(
        3 /* NFTA_SET_ELEM_LIST_ELEMENTS */,
        keys.map((k, i) => nest(i + 1, [dataValue(1 /* NFTA_SET_ELEM_KEY */, k)])),
      ),
    ],
    what: `${verb} element ${family} ${table} ${set}`,
  };
}
