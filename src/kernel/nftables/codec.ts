/**
 * Pure nf_tables netlink framing (Linux include/uapi/linux/netfilter/{nfnetlink,nf_tables}.h):
 * nfgenmsg headers, attributes (nf_tables puts numbers in network byte order and marks nested
 * attributes NLA_F_NESTED, as libnftnl does) and the batch that makes one transaction. Host byte
 * order for the netlink headers; the I/O is apply.ts.
 */
import { type Attr, attrs, message } from "../rtnetlink/codec.js";

export type { Attr };

/** NFNL_SUBSYS_NFTABLES: nf_tables' messages are (10 << 8) | NFT_MSG_*. */
export const nfnlSubsysNftables = 10;
/** NFNL_MSG_BATCH_BEGIN / _END (NLMSG_MIN_TYPE, +1). */
export const nfnlBatch = { begin: 0x10, end: 0x11 } as const;

/** NFT_MSG_* (enum nf_tables_msg_types). */
export const nftMsg = {
  newTable: 0,
  delTable: 2,
  newChain: 3,
  newRule: 6,
  delRule: 8,
  newSet: 9,
  newSetElem: 12,
  delSetElem: 14,
  newObj: 18,
} as const;

/** NLM_F_* of a request (linux/netlink.h). */
export const nlmF = { request: 0x1, ack: 0x4, create: 0x400, append: 0x800 } as const;

/** NFPROTO_* of the nfgenmsg family. */
export const nfproto = { unspec: 0, inet: 1, ipv4: 2, bridge: 7, ipv6: 10 } as const;
export type NfFamily = keyof typeof nfproto;

const nlaNested = 0x8000;

/** A nested attribute (NLA_F_NESTED set, as the kernel's strict validation of nf_tables wants). */
export const nest = (type: number, children: readonly Attr[]): Attr => ({
  type: type | nlaNested,
  data: attrs(children),
});

/** A NUL-terminated string (names of tables, chains, sets). */
export const strz = (type: number, text: string): Attr => ({ type, data: Buffer.from(`${text}\0`, "utf8") });

/** A string without its NUL (libnftnl sends an objref's name so). */
export const str = (type: number, text: string): Attr => ({ type, data: Buffer.from(text, "utf8") });

/** A 32-bit number in network byte order (every nf_tables u32 attribute). */
export const be32 = (type: number, v: number): Attr => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return { type, data: b };
};

export const be64 = (type: number, v: bigint): Attr => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return { type, data: b };
};

export const bytes = (type: number, data: Uint8Array): Attr => ({ type, data: Buffer.from(data) });

/** One nf_tables request: what it is (for errors) and its parts; the batch numbers it. */
export interface NfMessage {
  /** NFT_MSG_* */
  readonly type: number;
  /** NLM_F_* beyond NLM_F_REQUEST and NLM_F_ACK (which every message of a batch carries). */
  readonly flags: number;
  readonly family: NfFamily;
  readonly attrs: readonly Attr[];
  /** The request in nft's words, e.g. "add rule bridge strata-antispoof guard", for errors. */
  readonly what: string;
}

/** nfgenmsg: family, NFNETLINK_V0, res_id (network byte order). */
export function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(family, 0);
  b.writeUInt8(0, 1);
  b.writeUInt16BE(resId, 2);
  return b;
}

/** One message of a batch, NLM_F_ACK set so the kernel answers it (success or error). */
export function encodeMessage(m: NfMessage, seq: number): Buffer {
  return message(
    (nfnlSubsysNftables << 8) | m.type,
    nlmF.request | nlmF.ack | m.flags,
    seq,
    nfgenmsg(nfproto[m.family]),
    attrs(m.attrs),
  );
}

/** An encoded batch: its bytes and which message each sequence number is. */
export interface NfBatch {
  readonly bytes: Buffer;
  /** The seq of BATCH_BEGIN; message i has seq firstSeq + 1 + i. */
  readonly firstSeq: number;
  readonly messages: readonly NfMessage[];
}

/**
 * One transaction: BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES), the messages, BATCH_END. nf_tables
 * commits all of it or, when any message fails, none of it.
 */
export function encodeBatch(messages: readonly NfMessage[], firstSeq: number): NfBatch {
  const seq0 = firstSeq >>> 0;
  const edge = (type: number, seq: number) =>
    message(type, nlmF.request, seq, nfgenmsg(nfproto.unspec, nfnlSubsysNftables), Buffer.alloc(0));
  const bytes = Buffer.concat([
    edge(nfnlBatch.begin, seq0),
    ...messages.map((m, i) => encodeMessage(m, (seq0 + 1 + i) >>> 0)),
    edge(nfnlBatch.end, (seq0 + 1 + messages.length) >>> 0),
  ]);
  return { bytes, firstSeq: seq0, messages };
}

/** The message a sequence number of `batch` names (undefined: BEGIN, END or not this batch's). */
export function messageOfSeq(batch: NfBatch, seq: number): NfMessage | undefined {
  const i = ((seq - batch.firstSeq) >>> 0) - 1;
  return i >= 0 && i < batch.messages.length ? batch.messages[i] : undefined;
}
