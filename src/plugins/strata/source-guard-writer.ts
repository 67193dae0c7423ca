/**
 * How the source guard's writes reach the kernel: one change (the shared table, ports allowed,
 * ports forgotten) is one transaction, written either as nft text (source-guard-plan.ts, through
 * `nft -f` or a resident `nft -i`) or as an nf_tables netlink batch from inside the process
 * (source-guard-netlink.ts; no process at all). Both fail with the same CniError kinds.
 */
import { CniError, CniErrorCode } from "../../cni/errors.js";
import { describeError } from "../../common/errors.js";
import type { ExecResult } from "../../kernel/api.js";
import { type NfNetlink, NftablesError } from "../../kernel/nftables/apply.js";
import type { NfMessage } from "../../kernel/nftables/codec.js";
import { allowMessages, forgetMessages, guardTableMessages } from "./source-guard-netlink.js";
import {
  allowScript,
  forgetScript,
  type GuardFamily,
  guardTableScript,
  type PortSources,
} from "./source-guard-plan.js";

export interface GuardChange {
  readonly family: GuardFamily;
  /** Write the shared table, sets, counters and rules first (harmless when they exist). */
  readonly table: boolean;
  readonly allow: readonly PortSources[];
  /** Removed idempotently (present or not). */
  readonly forget: readonly PortSources[];
}

/** Apply one change as one transaction; throws a CniError. `what` names it for the error. */
export type GuardWriter = (change: GuardChange, what: string) => Promise<void>;

export const noNftables = (why: string, fix: string) =>
  new CniError(CniErrorCode.KernelUnsupported, `anti-spoofing needs nftables, and ${why}`, fix);

/** The change as nft text lines (one script: one transaction). */
export function guardLines(c: GuardChange): string[] {
  return [
    ...(c.table ? guardTableScript(c.family) : []),
    ...c.allow.flatMap((s) => allowScript(c.family, s)),
    ...c.forget.flatMap((s) => forgetScript(c.family, s)),
  ];
}

/** The change as nf_tables messages (one batch: one transaction). */
export function guardMessages(c: GuardChange): NfMessage[] {
  return [
    ...(c.table ? guardTableMessages(c.family) : []),
    ...c.allow.flatMap((s) => allowMessages(c.family, s)),
    ...(c.forget.length ? forgetMessages(c.family, c.forget) : []),
  ];
}

/** Through nft: `run` is a one-shot `nft -f -` or a resident session (kernel/nft-session.ts). */
export function nftTextWriter(run: (lines: readonly string[]) => Promise<ExecResult>): GuardWriter {
  return async (change, what) => {
    const r = await run(guardLines(change));
    if (r.code !== 0 && /could not be started/.test(r.stderr))
      throw noNftables(
        "the nft program could not be run",
        `install nftables (apt-get install nftables), or set "antiSpoofing": false in the network configuration (${r.stderr.trim()})`,
      );
    if (r.code !== 0)
      throw new CniError(CniErrorCode.KernelFailure, `${what} failed (nftables)`, r.stderr.trim());
  };
}

/** From inside the process over nf_tables netlink (the agent, with an addon that has nfApply). */
export function netlinkGuardWriter(nf: NfNetlink): GuardWriter {
  return async (change, what) => {
    try {
      nf.apply(guardMessages(change));
    } catch (err) {
      if (err instanceof NftablesError && err.kind === "unsupported")
        throw noNftables(
          "this kernel has no nf_tables",
          `load it (modprobe nf_tables), or set "antiSpoofing": false in the network configuration (${err.message})`,
        );
      // A table, set or element the kernel refused, or a name or address that cannot be a key.
      throw new CniError(CniErrorCode.KernelFailure, `${what} failed (nftables)`, describeError(err), {
        cause: err,
      });
    }
  };
}
