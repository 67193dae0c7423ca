import { describeError } from "../common/errors.js";
import { type CniArgs, parseCniArgs } from "./args.js";
import { CniError, CniErrorCode, invalidConfig, invalidEnv } from "./errors.js";
import { type CniResult, convertResult, parseResult } from "./result.js";
import { assertSupportedVersion, atLeast, currentVersion, supportedVersions } from "./version.js";

export type CniCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

/** One container attachment, as listed in GC's `cni.dev/valid-attachments` (or `cni.dev/attachments`). */
export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

/** Everything a verb needs, decoded and validated by the skeleton. */
export interface CniRequest<C> {
  readonly command: Exclude<CniCommand, "VERSION">;
  readonly containerId: string;
  /** CNI_NETNS; may be empty on DEL (the namespace is already gone). */
  readonly netns: string;
  readonly ifName: string;
  readonly args: CniArgs;
  readonly cniPath: readonly string[];
  readonly cniVersion: string;
  /** The network name from the configuration. */
  readonly network: string;
  readonly config: C;
  readonly raw: Readonly<Record<string, unknown>>;
  readonly prevResult?: CniResult;
  readonly runtimeConfig: Readonly<Record<string, unknown>>;
  /** GC only: attachments the runtime still knows about. */
  readonly validAttachments: readonly Attachment[];
}

/**
 * A CNI plugin: its config decoder and its verbs. The skeleton owns everything else (env and
 * stdin decoding, version checks, result conversion, error objects).
 *
 * GC and STATUS are optional (CNI 1.1.0). Without `gc` the plugin holds nothing a GC could
 * collect, so GC succeeds doing nothing ("plugins should generally complete a GC action without
 * error"). Without `status` the plugin is always "ready to service ADD requests", so STATUS
 * succeeds. A plugin that delegates (an `ipam` section) must implement both to pass them on: the
 * spec requires GC and STATUS to reach delegated plugins.
 */
export interface CniPlugin<C> {
  readonly type: string;
  /** Decode plugin-specific configuration; throw CniError (code 7 or 2) saying what to fix. */
  parseConfig(raw: Readonly<Record<string, unknown>>, cniVersion: string): C;
  add(req: CniRequest<C>): Promise<CniResult>;
  del(req: CniRequest<C>): Promise<void>;
  check(req: CniRequest<C>): Promise<void>;
  gc?(req: CniRequest<C>): Promise<void>;
  status?(req: CniRequest<C>): Promise<void>;
}

export interface PluginInvocation {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
}

export interface PluginOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One plugin as a runtime sees it: an invocation (env + stdin) in, an outcome (exit code, stdout,
 * stderr) out. `dispatch` makes one from a CniPlugin; the executables, the agent's socket and the
 * benchmarks all hold plugins as runners.
 */
export type PluginRunner = (inv: PluginInvocation) => Promise<PluginOutcome>;

/** A plugin bound into a runner. */
export const pluginRunner =
  <C>(plugin: CniPlugin<C>): PluginRunner =>
  (inv) =>
    dispatch(plugin, inv);

/** Container ids: spec §"Parameters" — alphanumerics, hyphen, underscore, period. */
const containerIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function validateIfName(name: string): void {
  // Linux IFNAMSIZ is 16 including the NUL; the spec also forbids "." "..", "/", ":" and whitespace.
  if (name === "" || name.length > 15 || name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw invalidEnv(
      `CNI_IFNAME "${name}" is not a valid interface name`,
      "use 1-15 characters without '/', ':' or whitespace",
    );
  }
}

function requireEnv(env: PluginInvocation["env"], key: string, command: string): string {
  const value = env[key];
  if (value === undefined || value === "") {
    throw invalidEnv(`${key} is required for ${command}`, `the runtime must set ${key}`);
  }
  return value;
}

function decodeConfig(stdin: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(
      CniErrorCode.DecodingFailure,
      "network configuration on stdin is not valid JSON",
      describeError(err),
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CniError(
      CniErrorCode.DecodingFailure,
      "network configuration on stdin must be a JSON object",
      "pass the plugin's configuration object, not a list or scalar",
    );
  }
  return value as Record<string, unknown>;
}

function decodeAttachmentList(key: string, raw: unknown): Attachment[] {
  if (
    !Array.isArray(raw) ||
    !raw.every((a) => a && typeof a.containerID === "string" && typeof a.ifname === "string")
  ) {
    throw invalidConfig(
      `${key} must be a list of {containerID, ifname}`,
      "the runtime passed a malformed GC attachment list",
    );
  }
  return raw as Attachment[];
}

/**
 * GC's list of attachments the runtime still knows. The key is `cni.dev/valid-attachments`; the
 * released 1.1.0 spec text names it `cni.dev/attachments` and libcni sends both, so either is
 * taken (and both are joined: an attachment named in either stays). A GC with neither list would
 * free every live pod's addresses, so it is refused and frees nothing.
 */
function decodeAttachments(raw: Readonly<Record<string, unknown>>): Attachment[] {
  const keys = ["cni.dev/valid-attachments", "cni.dev/attachments"].filter((k) => raw[k] !== undefined);
  if (keys.length === 0) {
    throw invalidConfig(
      "GC needs the list of attachments the runtime still uses",
      'pass "cni.dev/valid-attachments" (or the legacy "cni.dev/attachments"), [] when there are none; nothing was freed',
    );
  }
  return keys.flatMap((k) => decodeAttachmentList(k, raw[k]));
}

/** Decode env + stdin into a request; throws CniError. Exported for the agent, which runs verbs in-process. */
export function decodeRequest<C>(
  plugin: CniPlugin<C>,
  command: Exclude<CniCommand, "VERSION">,
  inv: PluginInvocation,
): CniRequest<C> {
  const raw = decodeConfig(inv.stdin);
  const cniVersion = raw.cniVersion;
  if (typeof cniVersion !== "string") {
    throw invalidConfig("cniVersion is missing from the network configuration", 'add "cniVersion": "1.1.0"');
  }
  assertSupportedVersion(cniVersion);
  if (command === "CHECK" && !atLeast(cniVersion, "0.4.0")) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      `CHECK is not defined for cniVersion ${cniVersion}`,
      "CHECK needs cniVersion 0.4.0 or later",
    );
  }
  if ((command === "GC" || command === "STATUS") && !atLeast(cniVersion, "1.1.0")) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      `${command} is not defined for cniVersion ${cniVersion}`,
      `${command} needs cniVersion 1.1.0`,
    );
  }
  if (typeof raw.type !== "string" || raw.type === "") {
    throw invalidConfig('"type" is missing from the network configuration', `set "type": "${plugin.type}"`);
  }
  if (typeof raw.name !== "string" || raw.name === "") {
    throw invalidConfig('"name" is missing from the network configuration', "give the network a name");
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(raw.name)) {
    throw invalidConfig(
      `network name "${raw.name}" is invalid`,
      "use letters, digits, '_', '.', '-' (it names files and chains)",
    );
  }
  const perContainer = command === "ADD" || command === "DEL" || command === "CHECK";
  const containerId = perContainer ? requireEnv(inv.env, "CNI_CONTAINERID", command) : "";
  if (perContainer && !containerIdPattern.test(containerId)) {
    throw invalidEnv(
      `CNI_CONTAINERID "${containerId}" is invalid`,
      "container ids contain only letters, digits, '_', '.', '-'",
    );
  }
  const ifName = perContainer ? requireEnv(inv.env, "CNI_IFNAME", command) : "";
  if (perContainer) validateIfName(ifName);
  const netns = command === "ADD" || command === "CHECK" ? requireEnv(inv.env, "CNI_NETNS", command) : "";
  const cniPathRaw = inv.env.CNI_PATH ?? "";
  if (command !== "DEL" && cniPathRaw === "") requireEnv(inv.env, "CNI_PATH", command);
  const runtimeConfig = raw.runtimeConfig;
  if (runtimeConfig !== undefined && (typeof runtimeConfig !== "object" || runtimeConfig === null)) {
    throw invalidConfig("runtimeConfig must be an object", "the runtime passed a malformed runtimeConfig");
  }
  const config = plugin.parseConfig(raw, cniVersion);
  return {
    command,
    containerId,
    netns: command === "DEL" ? (inv.env.CNI_NETNS ?? "") : netns,
    ifName,
    args: parseCniArgs(inv.env.CNI_ARGS),
    cniPath: cniPathRaw.split(":").filter((p) => p !== ""),
    cniVersion,
    network: raw.name,
    config,
    raw,
    prevResult: raw.prevResult === undefined ? undefined : parseResult(raw.prevResult),
    runtimeConfig: (runtimeConfig as Record<string, unknown> | undefined) ?? {},
    validAttachments: command === "GC" ? decodeAttachments(raw) : [],
  };
}

function versionFromStdin(stdin: string): string {
  try {
    const v = JSON.parse(stdin)?.cniVersion;
    if (typeof v === "string" && /^\d+\.\d+\.\d+$/.test(v)) return v;
  } catch {
    // An unreadable config still gets an error object in the current version.
  }
  return currentVersion;
}

function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  return new CniError(CniErrorCode.Internal, "internal error in plugin", describeError(err), { cause: err });
}

/**
 * Run one plugin invocation: decode, dispatch to the verb, encode the result or the spec's error
 * object. Never throws; process I/O is the caller's, so tests and the agent call it in-process.
 */
export async function dispatch<C>(plugin: CniPlugin<C>, inv: PluginInvocation): Promise<PluginOutcome> {
  const command = inv.env.CNI_COMMAND;
  const errorVersion = versionFromStdin(inv.stdin);
  try {
    if (command === "VERSION") {
      return {
        exitCode: 0,
        stdout: `${JSON.stringify({ cniVersion: currentVersion, supportedVersions })}\n`,
        stderr: "",
      };
    }
    if (
      command !== "ADD" &&
      command !== "DEL" &&
      command !== "CHECK" &&
      command !== "GC" &&
      command !== "STATUS"
    ) {
      throw invalidEnv(
        command ? `unknown CNI_COMMAND "${command}"` : "CNI_COMMAND is not set",
        "CNI_COMMAND must be ADD, DEL, CHECK, GC, STATUS or VERSION",
      );
    }
    const req = decodeRequest(plugin, command, inv);
    switch (command) {
      case "ADD": {
        const result = await plugin.add(req);
        return {
          exitCode: 0,
          stdout: `${JSON.stringify(convertResult(result, req.cniVersion))}\n`,
          stderr: "",
        };
      }
      case "DEL":
        await plugin.del(req);
        break;
      case "CHECK":
        await plugin.check(req);
        break;
      case "GC":
        // No gc: nothing to collect, success (see CniPlugin).
        await plugin.gc?.(req);
        break;
      case "STATUS":
        // No status: always ready to service ADD, success (see CniPlugin).
        await plugin.status?.(req);
        break;
    }
    return { exitCode: 0, stdout: "", stderr: "" };
  } catch (err) {
    const cniErr = toCniError(err);
    return {
      exitCode: 1,
      stdout: `${JSON.stringify(cniErr.toJSON(errorVersion))}\n`,
      stderr: cniErr.cniCode === CniErrorCode.Internal && err instanceof Error ? `${err.stack}\n` : "",
    };
  }
}
