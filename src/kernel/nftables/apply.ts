/**
 * nf_tables writes from inside the process: a batch (codec.ts) sent on a NETLINK_NETFILTER socket
 * made in the namespace, by the rtnetlink addon's nfApply (src/kernel/rtnetlink/rtnetlink.c), no
 * `nft` process. One call is one transaction; its first failure comes back as an NftablesError
 * naming the message in nft's words, the errno and the kernel's extended-ACK text.
 */
import { StrataError } from "../../common/errors.js";
import { type Netns, netnsPath } from "../api.js";
import { loadRtnetlinkAddon } from "../rtnetlink/driver.js";
import { encodeBatch, messageOfSeq, type NfMessage } from "./codec.js";

/** What the addon's nfApply answers (see rtnetlink.c). */
export interface NfApplyResult {
  readonly done: number;
  readonly errno: number;
  readonly error: string;
  readonly message: string;
  readonly seq: number;
}

export interface NfApplyAddon {
  nfApply(nsPath: string | null, batch: Buffer): NfApplyResult;
}

/**
 * unsupported: no nf_tables in this kernel (no netfilter netlink, or nf_tables refused the batch);
 * not-found: a message named a table, chain or set that does not exist; failed: anything else.
 */
export type NftablesErrorKind = "unsupported" | "not-found" | "failed";

export class NftablesError extends StrataError {
  constructor(
    readonly kind: NftablesErrorKind,
    /** The failing request in nft's words ("add element inet strata-antispoof v4"), or the batch's step. */
    readonly request: string,
    readonly errno: number,
    /** strerror, then the kernel's own text when it gave one. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`nftables.${kind}`, `${request}: ${detail}`, options);
  }
}

const ENOENT = 2;
const EPROTONOSUPPORT = 93;
const EOPNOTSUPP = 95;
const EAFNOSUPPORT = 97;

/** The addon when it has nfApply (an addon built before it does not; the caller uses nft then). */
export function loadNfApply(addon: unknown = loadRtnetlinkAddon()): NfApplyAddon | undefined {
  const a = addon as Partial<NfApplyAddon> | undefined;
  return typeof a?.nfApply === "function" ? (a as NfApplyAddon) : undefined;
}

/** Writes nf_tables batches into one namespace. */
export class NfNetlink {
  #seq = Math.floor(Math.random() * 0x3fffffff) + 1;

  constructor(
    private readonly addon: NfApplyAddon,
    private readonly ns: Netns,
  ) {}

  /** Apply `messages` as one transaction; throws NftablesError (nothing applied) on failure. */
  apply(messages: readonly NfMessage[]): void {
    if (messages.length === 0) return;
    const batch = encodeBatch(messages, this.#seq);
    this.#seq = ((this.#seq + messages.length + 2) % 0x7fffffff) + 1;
    let r: NfApplyResult;
    try {
      r = this.addon.nfApply(netnsPath(this.ns) ?? null, batch.bytes);
    } catch (err) {
      // No socket: a kernel without netfilter netlink, or the namespace is gone.
      const errno = (err as { errno?: number }).errno ?? 0;
      const kind = errno === EPROTONOSUPPORT || errno === EAFNOSUPPORT ? "unsupported" : "failed";
      throw new NftablesError(kind, "opening a netfilter netlink socket", errno, (err as Error).message, {
        cause: err,
      });
    }
    if (r.errno === 0) return;
    const failed = messageOfSeq(batch, r.seq);
    const detail = r.message ? `${r.error} (${r.message})` : r.error;
    // nf_tables refuses the batch itself (BATCH_BEGIN) with EOPNOTSUPP when the kernel lacks it.
    const kind =
      !failed && r.errno === EOPNOTSUPP ? "unsupported" : r.errno === ENOENT ? "not-found" : "failed";
    throw new NftablesError(kind, failed?.what ?? "the nftables batch", r.errno, detail);
  }
}
