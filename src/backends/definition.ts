import type { z } from "zod";
import type { BgpConfigView } from "../cluster/bgp-config.js";
import { StrataError } from "../common/errors.js";
import type { Kernel } from "../kernel/api.js";
import type { BpfTunnelDatapath } from "../kernel/bpf-tunnel/api.js";
import type { Backend } from "./api.js";
import type { SleeveDatapathFactory } from "./shared/sleeve-peers.js";

/** One command-line flag a backend contributes to `strata agent`. */
export interface BackendCliFlag {
  /** Commander syntax: `--vni <vni>`, `--no-bgp-mesh` (a switch that defaults to on), `--bgp-peer <spec>`. */
  readonly flag: string;
  /** What it sets, for `--help` (the CLI puts the names of the backends that read it in front). */
  readonly help: string;
  /** The value when the flag is not given; a repeatable flag starts from this list. */
  readonly default?: string | readonly string[];
  /** The flag may be given more than once; its values are collected in a list, in order. */
  readonly repeatable?: boolean;
}

/** Flag values as the command line gives them, keyed like Commander's options (`--vxlan-port` → `vxlanPort`). */
export type BackendFlagValues = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;

/** What a backend may need from the agent to build itself, beyond its own options. */
export interface BackendDeps {
  /** This node's name (e.g. to derive a VTEP MAC that stays the same across restarts). */
  readonly node: string;
  /**
   * The tc-BPF tunnel datapath for the node's kernel (the composition root binds its compiled
   * object); absent when this build has none. The ipip and gre backends use it where the kernel
   * has no tunnel module.
   */
  readonly bpfTunnel?: (kernel: Kernel) => BpfTunnelDatapath;
  /** The agent's `--state-dir`, where a backend keeps what must outlive a restart (wireguard's key). */
  readonly stateDir?: string;
  /**
   * The sleeve userspace datapath (the composition root binds the built helper); absent when this
   * build has none. The sleeve backend uses it, and ipip/gre where neither module nor BPF works.
   */
  readonly sleeve?: SleeveDatapathFactory;
  /**
   * The cluster's BGP topology as the datastore holds it (`strata bgp route-reflectors`): its
   * current view, then each change. The bgp backend follows it live; absent: flags only.
   */
  readonly bgpConfig?: (signal: AbortSignal) => AsyncIterable<BgpConfigView>;
}

/**
 * A backend as the registry lists it: its name, a one-line summary, its own options (a zod schema
 * from the flag values of `cliFlags` to the typed options `create` takes) and a factory. Every part
 * of Strata that lists backends (the agent's `--backend` and flags, the agent wiring, the lab's
 * models) reads them from here: adding a backend is its folder and one line in `registry.ts`.
 */
export interface BackendDefinition<Options = unknown> {
  /** The `--backend` / `--model` value; also the name the backend publishes with its lease. */
  readonly name: string;
  readonly summary: string;
  /** Validates the flag values (keyed by `flagKey(flag)`) and turns them into `create`'s options. */
  readonly options: z.ZodType<Options>;
  readonly cliFlags: readonly BackendCliFlag[];
  /**
   * Routes IPv6 pod subnets too (a lease's subnet6 via its publicIp6): the agent takes a
   * dual-stack `--cluster-cidr` only for such a backend, and the lab `--ip-family dual`.
   */
  readonly dualStack?: true;
  /**
   * Runs for a network namespace other than its process's (an agent host: one process, an agent
   * per emulated node): every kernel call, socket and program it makes names the node's namespace.
   * Absent: it needs a process of its own inside the node (a userspace datapath, a supervised program).
   */
  readonly hostable?: true;
  /**
   * Builds the backend; no network I/O (the agent starts it later). It may read what its flags
   * name (a password file) and check what it needs, so a problem stops the agent before it
   * leases anything: throw a StrataError that names the flag.
   */
  create(options: Options, deps: BackendDeps): Backend;
}

/** A flag value a backend cannot use: its message starts with the flag (`--vni: "abc" is not ...`). */
export class BackendOptionsError extends StrataError {
  constructor(message: string) {
    super("backend.options", message);
  }
}

/** The registry itself is inconsistent (two backends of one name, one flag with two meanings): a bug. */
export class BackendRegistryError extends StrataError {
  constructor(message: string) {
    super("backend.registry", message);
  }
}

/**
 * Pure: the key of a flag's value, the way Commander names it: the long name without `--` (and
 * without `no-` for a switch that turns something off), camel-cased. `--vxlan-port <port>` →
 * `vxlanPort`, `--no-bgp-mesh` → `bgpMesh`.
 */
export function flagKey(flag: string): string {
  const long = flag.split(/[\s,|]+/).find((part) => part.startsWith("--")) ?? flag;
  return long
    .slice(2)
    .replace(/^no-/, "")
    .replace(/-(.)/g, (_, c: string) => c.toUpperCase());
}

/**
 * Marks a zod issue whose message already names the flag it is about (e.g. a peer spec parser
 * that says `bad --peer "..."`), so it is not prefixed with the flag again.
 */
export const namesItsFlag = { namesItsFlag: true } as const;

/**
 * The backend's own options from the flag values: only the backend's flags are read, its schema
 * checks them, and the first problem is a BackendOptionsError naming the flag.
 */
export function parseBackendOptions<O>(def: BackendDefinition<O>, values: BackendFlagValues): O {
  const own: Record<string, unknown> = {};
  for (const f of def.cliFlags) own[flagKey(f.flag)] = values[flagKey(f.flag)];
  const parsed = def.options.safeParse(own);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue?.path[0];
  const flag = def.cliFlags.find((f) => flagKey(f.flag) === key)?.flag.split(/\s/)[0];
  const message = issue?.message ?? "invalid options";
  const selfNamed = issue?.code === "custom" && issue.params?.namesItsFlag === true;
  if (selfNamed) throw new BackendOptionsError(message);
  throw new BackendOptionsError(`${flag ?? `${def.name} backend`}: ${message}`);
}

/** Parses the backend's options from the flag values, then builds it (see `create`). */
export function createBackendFrom<O>(
  def: BackendDefinition<O>,
  values: BackendFlagValues,
  deps: BackendDeps,
): Backend {
  return def.create(parseBackendOptions(def, values), deps);
}
