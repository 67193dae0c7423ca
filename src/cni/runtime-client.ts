import { existsSync } from "node:fs";
import { join } from "node:path";
import { type ProgramResult, runProgram } from "../process/run-program.js";
import { CniError, type CniErrorCode } from "./errors.js";
import type { PluginOutcome } from "./skeleton.js";

/**
 * A small CNI runtime (the part of libcni a container runtime uses): runs a network configuration
 * list against a container, chaining prevResult through the plugins on ADD, reversing on DEL.
 * The lab, the tests and the benchmarks attach pods through it exactly as a runtime would.
 */
export interface ConfList {
  readonly cniVersion: string;
  readonly name: string;
  readonly disableCheck?: boolean;
  readonly disableGC?: boolean;
  readonly plugins: readonly Record<string, unknown>[];
}

export interface Attachment {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly args?: Readonly<Record<string, string>>;
  /** runtimeConfig values keyed by capability (portMappings, bandwidth, ips, ...). */
  readonly capabilityArgs?: Readonly<Record<string, unknown>>;
}

export interface RuntimeOptions {
  readonly cniPath: readonly string[];
  /** Wrap each plugin exec, e.g. ["ip", "netns", "exec", "node1"] to run as that node's runtime. */
  readonly execPrefix?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How a plugin process is started: argv, its stdin and its whole environment. Default: a child
   * of this process (runProgram); the lab starts them through spawn helpers inside a node.
   */
  readonly spawn?: (
    argv: readonly string[],
    opts: { readonly input: string; readonly env: Readonly<Record<string, string>> },
  ) => Promise<ProgramResult>;
}

export class PluginFailed extends CniError {
  constructor(
    readonly pluginType: string,
    readonly command: string,
    code: number,
    msg: string,
    details: string,
  ) {
    super(code as CniErrorCode, `${pluginType} ${command}: ${msg}`, details);
  }
}

export function runPlugin(
  type: string,
  command: string,
  stdin: string,
  att: Partial<Attachment>,
  opts: RuntimeOptions,
): Promise<PluginOutcome> {
  // Like libcni: the first directory of CNI_PATH that has the executable.
  const dirs = opts.cniPath.length > 0 ? opts.cniPath : ["/opt/cni/bin"];
  const pluginPath = join(dirs.find((d) => existsSync(join(d, type))) ?? (dirs[0] as string), type);
  const argv = [...(opts.execPrefix ?? []), pluginPath];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    ...opts.env,
    CNI_COMMAND: command,
    CNI_PATH: opts.cniPath.join(":"),
    ...(att.containerId ? { CNI_CONTAINERID: att.containerId } : {}),
    ...(att.netns !== undefined ? { CNI_NETNS: att.netns } : {}),
    ...(att.ifName ? { CNI_IFNAME: att.ifName } : {}),
    ...(att.args
      ? {
          CNI_ARGS: Object.entries(att.args)
            .map(([k, v]) => `${k}=${v}`)
            .join(";"),
        }
      : {}),
  };
  const spawn = opts.spawn ?? ((a, o) => runProgram(a, { input: o.input, env: { ...o.env } }));
  return spawn(argv, { input: stdin, env }).then((r) => ({
    exitCode: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
  }));
}

function failure(type: string, command: string, outcome: PluginOutcome): PluginFailed {
  try {
    const e = JSON.parse(outcome.stdout) as { code?: number; msg?: string; details?: string };
    return new PluginFailed(type, command, e.code ?? 999, e.msg ?? "failed", e.details ?? outcome.stderr);
  } catch {
    return new PluginFailed(type, command, 999, "failed without an error object", outcome.stderr.trim());
  }
}

/** The config one plugin of a list receives (spec §"Network configuration list runtime semantics"). */
export function pluginStdin(
  list: ConfList,
  plugin: Record<string, unknown>,
  att: Partial<Attachment>,
  prevResult?: unknown,
  extra?: Record<string, unknown>,
): string {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const caps = plugin.capabilities as Record<string, boolean> | undefined;
  if (caps && att.capabilityArgs) {
    const rc: Record<string, unknown> = {};
    for (const [cap, enabled] of Object.entries(caps)) {
      if (enabled && att.capabilityArgs[cap] !== undefined) rc[cap] = att.capabilityArgs[cap];
    }
    if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
  }
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return JSON.stringify({ ...conf, ...extra });
}

export async function addNetworkList(
  list: ConfList,
  att: Attachment,
  opts: RuntimeOptions,
): Promise<unknown> {
  let prev: unknown;
  for (const plugin of list.plugins) {
    const type = String(plugin.type);
    const out = await runPlugin(type, "ADD", pluginStdin(list, plugin, att, prev), att, opts);
    if (out.exitCode !== 0) throw failure(type, "ADD", out);
    prev = JSON.parse(out.stdout);
  }
  return prev;
}

export async function delNetworkList(
  list: ConfList,
  att: Attachment,
  opts: RuntimeOptions,
  prevResult?: unknown,
): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) {
    const type = String(plugin.type);
    const out = await runPlugin(type, "DEL", pluginStdin(list, plugin, att, prevResult), att, opts);
    if (out.exitCode !== 0) throw failure(type, "DEL", out);
  }
}

export async function checkNetworkList(
  list: ConfList,
  att: Attachment,
  opts: RuntimeOptions,
  prevResult: unknown,
): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) {
    const type = String(plugin.type);
    const out = await runPlugin(type, "CHECK", pluginStdin(list, plugin, att, prevResult), att, opts);
    if (out.exitCode !== 0) throw failure(type, "CHECK", out);
  }
}

export async function gcNetworkList(
  list: ConfList,
  valid: readonly { containerID: string; ifname: string }[],
  opts: RuntimeOptions,
): Promise<void> {
  if (list.disableGC) return;
  for (const plugin of list.plugins) {
    const type = String(plugin.type);
    const stdin = pluginStdin(list, plugin, {}, undefined, { "cni.dev/valid-attachments": valid });
    const out = await runPlugin(type, "GC", stdin, {}, opts);
    if (out.exitCode !== 0) throw failure(type, "GC", out);
  }
}

export async function statusNetworkList(list: ConfList, opts: RuntimeOptions): Promise<void> {
  for (const plugin of list.plugins) {
    const type = String(plugin.type);
    const out = await runPlugin(type, "STATUS", pluginStdin(list, plugin, {}), {}, opts);
    if (out.exitCode !== 0) throw failure(type, "STATUS", out);
  }
}
