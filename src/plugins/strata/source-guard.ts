import { CniError, CniErrorCode } from "../../cni/errors.js";
import { describeError } from "../../common/errors.js";
import type { ExecResult, Kernel, Netns } from "../../kernel/api.js";
import type { ProgramRunner } from "../../process/run-program.js";
import {
  type GuardFamily,
  type GuardTableState,
  type PortSources,
  parseGuardTable,
  type SpoofCounts,
  sourceGuardTable,
  sourcesOf,
} from "./source-guard-plan.js";
import { type GuardChange, type GuardWriter, nftTextWriter, noNftables } from "./source-guard-writer.js";

const noNft = (err: unknown) =>
  noNftables(
    "the nft program could not be run",
    `install nftables (apt-get install nftables), or set "antiSpoofing": false in the network configuration (${describeError(err)})`,
  );

/** `nft` exits 1 with this when the table (or set) does not exist. */
const isMissingTable = (r: ExecResult) => r.code !== 0 && /No such file or directory/.test(r.stderr);

/**
 * Applies the source guard (source-guard-plan.ts) in the node's namespace: one nft transaction per
 * ADD (set elements only, once this process has written the shared rules), a list and one delete
 * per DEL. Writes go to `writer` when given (the agent's: nf_tables netlink from inside the process,
 * or its resident `nft -i`), else to a spawned `nft -f`; reads spawn `nft -j` through the kernel's
 * program runner.
 */
export class SourceGuard {
  /** Families whose shared table and rules this process has written. */
  readonly #ready = new Set<GuardFamily>();
  /** What this process allowed, by family and port: a resident agent's DEL then needs no read. */
  readonly #allowed = new Map<string, PortSources>();
  readonly #write: GuardWriter;

  constructor(
    private readonly kernel: Kernel,
    private readonly ns: Netns,
    writer?: GuardWriter,
  ) {
    this.#write = writer ?? nftTextWriter((lines) => this.#nft(["-f", "-"], `${lines.join("\n")}\n`));
  }

  async #nft(argv: readonly string[], input?: string): Promise<ExecResult> {
    let r: ExecResult;
    try {
      r = await this.kernel.exec(this.ns, ["nft", ...argv], input === undefined ? {} : { input });
    } catch (err) {
      throw noNft(err);
    }
    if (r.code === 127) throw noNft(r.stderr.trim());
    return r;
  }

  #apply(change: Partial<GuardChange> & { family: GuardFamily }, what: string): Promise<void> {
    return this.#write({ table: false, allow: [], forget: [], ...change }, what);
  }

  /** Guard `s.port`: from now on it may send only from `s`'s addresses. */
  async allow(family: GuardFamily, s: PortSources): Promise<void> {
    const table = !this.#ready.has(family);
    try {
      await this.#apply({ family, table, allow: [s] }, "allowing the pod's source addresses");
    } catch (err) {
      if (table) throw err;
      // Someone removed the table under a resident agent: forget it and write it all again.
      this.#ready.delete(family);
      return this.allow(family, s);
    }
    this.#ready.add(family);
    this.#allowed.set(`${family}/${s.port}`, s);
  }

  /** The table's sets and counters; undefined when the table does not exist (nothing guarded). */
  async read(family: GuardFamily): Promise<GuardTableState | undefined> {
    const r = await this.#nft(["-j", "list", "table", family, sourceGuardTable]);
    if (isMissingTable(r)) return undefined;
    if (r.code !== 0)
      throw new CniError(CniErrorCode.KernelFailure, "reading the anti-spoofing table failed", r.stderr);
    return parseGuardTable(r.stdout);
  }

  /** Remove exactly these elements (an ADD's undo step); already-absent ones are fine. */
  async revoke(family: GuardFamily, s: PortSources): Promise<void> {
    await this.#apply({ family, forget: [s] }, "removing the pod's source addresses");
    this.#allowed.delete(`${family}/${s.port}`);
  }

  /**
   * Remove what the table holds for these ports; idempotent. When what ADD allowed is known (DEL's
   * prevResult, or this process made it) that is one write and no read; otherwise, or when that
   * write fails (no table), the table is read first, so DEL needs no prevResult.
   */
  async forget(family: GuardFamily, port: string, fromPrev?: PortSources): Promise<void> {
    const known = this.#allowed.get(`${family}/${port}`) ?? (fromPrev?.port === port ? fromPrev : undefined);
    if (known) {
      try {
        return await this.revoke(family, known);
      } catch {
        // fall through to the table's own view
      }
    }
    const state = await this.read(family);
    const s = state && sourcesOf(state, port);
    if (s) await this.revoke(family, s);
  }

  /**
   * GC: remove the elements of ports that neither exist as a link in the node's namespace nor
   * belong to an attachment the runtime still knows (an ADD in flight may not have made its veth yet).
   */
  async collectGarbage(family: GuardFamily, keep: ReadonlySet<string>): Promise<string[]> {
    const state = await this.read(family);
    if (!state) return [];
    const links = new Set((await this.kernel.links(this.ns)).map((l) => l.name));
    const known = new Set([...state.ports, ...state.sources.keys()]);
    const stale = [...known].filter((p) => !keep.has(p) && !links.has(p));
    const forget = stale.flatMap((p) => sourcesOf(state, p) ?? []);
    if (forget.length > 0) await this.#apply({ family, forget }, "removing stale anti-spoofing elements");
    for (const p of stale) this.#allowed.delete(`${family}/${p}`);
    return stale;
  }
}

/**
 * Packets dropped as spoofed on this node, summed over the bridge and inet guard tables
 * (`nft -j list counters` in the caller's namespace); all zero when no table exists yet.
 */
export async function readSpoofCounts(run: ProgramRunner): Promise<SpoofCounts> {
  const r = await run(["nft", "-j", "list", "counters"]);
  if (r.code !== 0) throw new Error(`nft -j list counters: ${r.stderr.trim()}`);
  return parseGuardTable(r.stdout).counts;
}
