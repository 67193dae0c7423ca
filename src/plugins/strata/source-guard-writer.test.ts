import assert from "node:assert/strict";
import { test } from "node:test";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import { namedNetns } from "../../kernel/api.js";
import { type NfApplyAddon, type NfApplyResult, NfNetlink } from "../../kernel/nftables/apply.js";
import { netlinkGuardWriter } from "./source-guard-writer.js";

/**
 * What a kernel without nf_tables answers cannot be made on this machine (its nf_tables is built
 * in), so these answers are the addon's, as rtnetlink.c reports them for such a kernel: the socket
 * refused (no netfilter netlink), or nfnetlink refusing BATCH_BEGIN with EOPNOTSUPP (no nf_tables
 * subsystem). The real path is in source-guard-netlink.netns.test.ts.
 */
const answering = (answer: (batch: Buffer) => NfApplyResult): NfApplyAddon => ({
  nfApply: (_ns, batch) => answer(batch),
});
const change = { family: "inet", table: true, allow: [], forget: [] } as const;

test("a kernel without nf_tables (nfnetlink refuses the batch) is KernelUnsupported saying what to do", async () => {
  const nf = new NfNetlink(
    answering((b) => ({
      done: 0,
      errno: 95,
      error: "Operation not supported",
      message: "",
      seq: b.readUInt32LE(8),
    })),
    namedNetns("x"),
  );
  await assert.rejects(
    netlinkGuardWriter(nf)(change, "allowing the pod's source addresses"),
    (err: unknown) =>
      err instanceof CniError &&
      err.cniCode === CniErrorCode.KernelUnsupported &&
      /this kernel has no nf_tables/.test(err.message) &&
      /modprobe nf_tables/.test(err.details) &&
      /antiSpoofing": false/.test(err.details),
  );
});

test("no netfilter netlink socket at all (EPROTONOSUPPORT) is KernelUnsupported too", async () => {
  const nf = new NfNetlink(
    {
      nfApply: () => {
        throw Object.assign(new Error("netfilter netlink socket: Protocol not supported"), { errno: 93 });
      },
    },
    namedNetns("x"),
  );
  await assert.rejects(
    netlinkGuardWriter(nf)(change, "allowing the pod's source addresses"),
    (err: unknown) => err instanceof CniError && err.cniCode === CniErrorCode.KernelUnsupported,
  );
});

test("a message the kernel refuses is KernelFailure naming it in nft's words, with errno text and extended ACK", async () => {
  const nf = new NfNetlink(
    answering((b) => {
      // The 4th message of the batch (BEGIN is seq+0): the third set, v6.
      const seq = b.readUInt32LE(8) + 4;
      return { done: 3, errno: 22, error: "Invalid argument", message: "bad key", seq };
    }),
    namedNetns("x"),
  );
  await assert.rejects(
    netlinkGuardWriter(nf)(change, "allowing the pod's source addresses"),
    (err: unknown) =>
      err instanceof CniError &&
      err.cniCode === CniErrorCode.KernelFailure &&
      err.message === "allowing the pod's source addresses failed (nftables)" &&
      err.details === "add set inet strata-antispoof v6: Invalid argument (bad key)",
  );
});
