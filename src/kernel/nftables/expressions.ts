/**
 * nf_tables expressions as netlink attributes (NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA }),
 * each one what `nft --debug=netlink` prints as one bracketed line, e.g. `[ meta load iifname =>
 * reg 1 ]`. Pure.
 */
import { type Attr, be32, bytes, nest, str, strz } from "./codec.js";

/** A 128-bit register (NFT_REG_1 ...); NFT_REG_VERDICT is 0. */
export type Register = 0 | 1 | 2 | 3 | 4;
export const verdictRegister = 0;

const expr = (name: string, data: readonly Attr[]): Attr =>
  nest(1 /* NFTA_LIST_ELEM */, [strz(1 /* NFTA_EXPR_NAME */, name), nest(2 /* NFTA_EXPR_DATA */, data)]);

/** NFTA_DATA_VALUE inside its nest (cmp's data, bitwise's mask and xor, set keys). */
export const dataValue = (type: number, value: Uint8Array): Attr => nest(type, [bytes(1, value)]);

/** NFT_META_* keys used here. */
export const metaKey = { iifname: 6, nfproto: 15, l4proto: 16 } as const;

/** `[ meta load KEY => reg R ]` */
export const metaLoad = (key: keyof typeof metaKey, dreg: Register): Attr =>
  expr("meta", [be32(2 /* NFTA_META_KEY */, metaKey[key]), be32(1 /* NFTA_META_DREG */, dreg)]);

/** NFT_PAYLOAD_*_HEADER */
export const payloadBase = { link: 0, network: 1, transport: 2 } as const;

/** `[ payload load LENb @ BASE header + OFFSET => reg R ]` */
export const payloadLoad = (
  base: keyof typeof payloadBase,
  offset: number,
  len: number,
  dreg: Register,
): Attr =>
  expr("payload", [
    be32(1 /* NFTA_PAYLOAD_DREG */, dreg),
    be32(2 /* NFTA_PAYLOAD_BASE */, payloadBase[base]),
    be32(3 /* NFTA_PAYLOAD_OFFSET */, offset),
    be32(4 /* NFTA_PAYLOAD_LEN */, len),
  ]);

/** `[ cmp eq reg R VALUE ]` (NFT_CMP_EQ) */
export const cmpEq = (sreg: Register, value: Uint8Array): Attr => cmp(sreg, 0, value);

/** `[ cmp neq reg R VALUE ]` (NFT_CMP_NEQ) */
export const cmpNeq = (sreg: Register, value: Uint8Array): Attr => cmp(sreg, 1, value);

const cmp = (sreg: Register, op: number, value: Uint8Array): Attr =>
  expr("cmp", [be32(1 /* NFTA_CMP_SREG */, sreg), be32(2 /* NFTA_CMP_OP */, op), dataValue(3, value)]);

/** NF_NAT_RANGE_PROTO_RANDOM_FULLY: `masquerade fully-random`. */
export const masqFullyRandom = 0x10;

/** `[ masq flags F ]`: source NAT to the outgoing interface's address. */
export const masq = (flags: number): Attr => expr("masq", [be32(1 /* NFTA_MASQ_FLAGS */, flags)]);

/** `[ bitwise reg R = ( reg R & MASK ) ^ XOR ]` (a prefix match's mask, xor all zero) */
export const bitwiseMask = (reg: Register, mask: Uint8Array): Attr =>
  expr("bitwise", [
    be32(1 /* NFTA_BITWISE_SREG */, reg),
    be32(2 /* NFTA_BITWISE_DREG */, reg),
    be32(3 /* NFTA_BITWISE_LEN */, mask.length),
    dataValue(4 /* NFTA_BITWISE_MASK */, mask),
    dataValue(5 /* NFTA_BITWISE_XOR */, new Uint8Array(mask.length)),
  ]);

/**
 * `[ lookup reg R set NAME ]`. `setId` names a set made earlier in the same batch (an anonymous
 * set's name is only given by the kernel at commit).
 */
export const lookup = (sreg: Register, set: string, setId?: number): Attr =>
  expr("lookup", [
    be32(2 /* NFTA_LOOKUP_SREG */, sreg),
    strz(1 /* NFTA_LOOKUP_SET */, set),
    ...(setId === undefined ? [] : [be32(4 /* NFTA_LOOKUP_SET_ID */, setId)]),
  ]);

/** `[ objref type 1 name NAME ]` (NFT_OBJECT_COUNTER): count in a named counter. */
export const counterRef = (name: string): Attr =>
  expr("objref", [be32(1 /* NFTA_OBJREF_IMM_TYPE */, 1), str(2 /* NFTA_OBJREF_IMM_NAME */, name)]);

/** NF_DROP, NF_ACCEPT, NFT_JUMP */
export type Verdict =
  | { readonly kind: "accept" | "drop" }
  | { readonly kind: "jump"; readonly chain: string };
const verdictCode = { drop: 0, accept: 1, jump: -3 } as const;

/** `[ immediate reg 0 accept ]`, `[ immediate reg 0 jump -> CHAIN ]` */
export const verdict = (v: Verdict): Attr =>
  expr("immediate", [
    be32(1 /* NFTA_IMMEDIATE_DREG */, verdictRegister),
    nest(2 /* NFTA_IMMEDIATE_DATA */, [
      nest(2 /* NFTA_DATA_VERDICT */, [
        be32(1 /* NFTA_VERDICT_CODE */, verdictCode[v.kind]),
        ...(v.kind === "jump" ? [strz(2 /* NFTA_VERDICT_CHAIN */, v.chain)] : []),
      ]),
    ]),
  ]);
