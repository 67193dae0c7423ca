import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { type ExecResult, type Netns, netnsPath } from "./api.js";

/** Runs one nftables script (one transaction) and reports nft's exit status and stderr. */
export type NftScriptRunner = (lines: readonly string[]) => Promise<ExecResult>;

/** A script as one `nft -f -` in `ns` (one transaction), through the kernel's process runner. */
export const nftOneShot =
  (
    exec: (ns: Netns, argv: string[], o: { input: string }) => Promise<ExecResult>,
    ns: Netns,
  ): NftScriptRunner =>
  (lines) =>
    exec(ns, ["nft", "-f", "-"], { input: `${lines.join("\n")}\n` });

/** How to start nft inside `ns` (the caller's own namespace: plain `nft`). */
export function nftArgv(ns: Netns): string[] {
  const path = netnsPath(ns);
  return path ? ["nsenter", `--net=${path}`, "--", "nft"] : ["nft"];
}

/**
 * A resident `nft -i` for a long-lived process (the agent, when it cannot write nf_tables over
 * netlink itself: an addon without nfApply, or `--kernel-driver iproute2`; nftables/apply.ts is
 * cheaper still, no process at all): each script is one line, so one
 * transaction, with no process start or library loading per call. Measured on the shared 2-core
 * machine under load: a spawned `nft -f` with one element took ~55 ms and an `ip -batch` ~38 ms,
 * a script through the session ~1.5 ms (with 0, 200 and 1,000 elements in the set alike).
 *
 * nft answers successful commands with nothing, so each script is followed by a sentinel that
 * always fails with a numbered message (`list table inet strata-sync-N`): everything on stderr
 * before that message is the script's own error. Scripts run one at a time. Runs in the caller's
 * network namespace (the agent's, which is the node's), or where `argv` puts it (nftArgv).
 */
export class NftSession {
  #proc: ChildProcessByStdio<Writable, null, Readable> | undefined;
  #stderr = "";
  #seq = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  /** Scripts run so far (the first `residentAfter` of them one-shot, when a runner is given). */
  #runs = 0;

  /** `argv`: how to start nft (tests prefix `ip netns exec NS`); `-i` is appended. */
  constructor(
    private readonly argv: readonly string[] = ["nft"],
    private readonly timeoutMs = 10_000,
    /**
     * Run the first `residentAfter` scripts with `oneShot` (e.g. `nft -f -` from the agent's spawn
     * helpers) and start the resident nft only after them: a node with a pod or two never pays for
     * it. Starting it forks the whole agent process, which blocks its event loop (in a lab host
     * of 100 agents, 200 such forks were an eighth of the pods step's time).
     */
    private readonly lazy?: { readonly oneShot: NftScriptRunner; readonly residentAfter: number },
  ) {}

  readonly run: NftScriptRunner = (lines) => {
    const oneShot =
      !this.#proc && this.lazy && this.#runs < this.lazy.residentAfter ? this.lazy.oneShot : undefined;
    this.#runs++;
    const job = this.#tail.then(() => (oneShot ? oneShot(lines) : this.#runOne(lines)));
    this.#tail = job.catch(() => undefined);
    return job;
  };

  /** The running nft's pid (tests). */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  close(): void {
    this.#proc?.stdin.end();
    this.#proc = undefined;
  }

  #start(): ChildProcessByStdio<Writable, null, Readable> {
    const proc = spawn(this.argv[0] as string, [...this.argv.slice(1), "-i"], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      this.#stderr += d;
      this.#wake?.();
    });
    const gone = () => {
      if (this.#proc === proc) this.#proc = undefined;
      this.#wake?.();
    };
    proc.on("exit", gone);
    proc.on("error", (err) => {
      this.#stderr += `\nnft could not be started: ${err.message}\n`;
      gone();
    });
    proc.stdin.on("error", gone);
    // The session must never keep a stopping process alive; EOF on stdin ends nft.
    proc.unref();
    (proc.stdin as unknown as { unref?: () => void }).unref?.();
    (proc.stderr as unknown as { unref?: () => void }).unref?.();
    this.#proc = proc;
    return proc;
  }

  async #runOne(lines: readonly string[]): Promise<ExecResult> {
    const proc = this.#proc ?? this.#start();
    const marker = `strata-sync-${++this.#seq}`;
    proc.stdin.write(`${lines.join("; ")}\nlist table inet ${marker}\n`);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const at = this.#stderr.search(new RegExp(`^.*${marker}.*$`, "m"));
      if (at >= 0) {
        const before = this.#stderr.slice(0, at);
        this.#stderr = this.#stderr.slice(at).replace(/^.*\n?/, "");
        // Drop the sentinel's own "Error: ..." line that precedes the echoed command, and caret
        // lines (nft underlines the failing part; a sentinel's may arrive after its message).
        const own = before
          .replace(/Error:[^\n]*\n$/, "")
          .split("\n")
          .filter((l) => !/^[\s^~]*$/.test(l))
          .join("\n");
        return { code: own ? 1 : 0, stdout: "", stderr: own };
      }
      if (!this.#proc || Date.now() > deadline) {
        this.#proc?.kill("SIGKILL");
        this.#proc = undefined;
        const stderr = this.#stderr.trim() || "nft -i stopped answering";
        this.#stderr = "";
        return { code: 1, stdout: "", stderr };
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50); // keeps the loop alive while a script is in flight
      });
      this.#wake = undefined;
    }
  }
}
