import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "../common/errors.js";
import { runProgram } from "../process/run-program.js";
import { CniError, CniErrorCode } from "./errors.js";
import { type CniResult, convertResult, parseResult } from "./result.js";
import type { CniCommand, CniPlugin, CniRequest, PluginInvocation, PluginOutcome } from "./skeleton.js";

/**
 * Delegation (CNI 1.1.0 §"Delegated plugins"): a plugin runs its IPAM plugin with the same
 * configuration on stdin and the same environment, CNI_COMMAND set to the verb, found on CNI_PATH.
 *
 * A delegate this process links itself (Strata's own `strata-ipam`, in the plugin executable and
 * in the agent alike) is called directly: its verb gets the caller's decoded request with its own
 * parsed configuration, with no env, stdin, stdout or JSON text in between. What it sees is what
 * it would decode from the wire (same raw configuration, same CNI_* values, the verb as command);
 * its result is converted to the configuration's cniVersion as the wire would carry it, and its
 * errors keep their code with the type named in front, as an executed delegate's do. Every other
 * type is executed from CNI_PATH, as the spec requires.
 */
export type LinkedPlugins = Readonly<Record<string, CniPlugin<unknown>>>;

export interface DelegateOptions {
  /** Delegate types linked into this process, by type; called without exec or JSON. */
  readonly linked?: LinkedPlugins;
  /**
   * The node's namespace file when it is not this process's (an agent host): an executed delegate
   * runs inside it (`nsenter --net=`), as it would from a plugin process started on the node.
   */
  readonly netnsPath?: string;
}

/** Pure: the argv that runs the plugin executable `path`, inside `netnsPath` when given. */
export function delegateArgv(path: string, netnsPath?: string): string[] {
  return netnsPath ? ["nsenter", `--net=${netnsPath}`, "--", path] : [path];
}

/** The environment a delegated plugin receives for `command` on behalf of `req`. */
export function delegateEnv(req: CniRequest<unknown>, command: CniCommand): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: req.containerId,
    CNI_NETNS: req.netns,
    CNI_IFNAME: req.ifName,
    CNI_ARGS: Object.entries(req.args.all)
      .map(([k, v]) => `${k}=${v}`)
      .join(";"),
    CNI_PATH: req.cniPath.join(":"),
  };
}

async function findOnPath(type: string, cniPath: readonly string[]): Promise<string> {
  for (const dir of cniPath) {
    const candidate = join(dir, type);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  throw new CniError(
    CniErrorCode.InvalidNetworkConfig,
    `plugin "${type}" was not found on CNI_PATH`,
    `install the "${type}" executable into one of: ${cniPath.join(", ") || "(CNI_PATH is empty)"}`,
  );
}

async function execPlugin(argv: readonly string[], inv: PluginInvocation): Promise<PluginOutcome> {
  const r = await runProgram(argv, { input: inv.stdin, env: inv.env as NodeJS.ProcessEnv });
  return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
}

type DelegatedCommand = Exclude<CniCommand, "VERSION">;

/** Execute `type` from CNI_PATH; its error object becomes a CniError. */
async function execDelegate(
  type: string,
  command: DelegatedCommand,
  req: CniRequest<unknown>,
  netnsPath?: string,
): Promise<PluginOutcome> {
  const inv: PluginInvocation = {
    env: { ...process.env, ...delegateEnv(req, command) },
    stdin: JSON.stringify(req.raw),
  };
  const outcome = await execPlugin(delegateArgv(await findOnPath(type, req.cniPath), netnsPath), inv);
  if (outcome.exitCode !== 0) throw errorFromOutcome(type, command, outcome);
  return outcome;
}

/**
 * Call a linked delegate's verb. Its request is the caller's with the delegate's own configuration
 * (decoded from the same raw object, as from the same stdin) and the delegated verb as command.
 */
async function callLinked<C>(
  plugin: CniPlugin<C>,
  command: DelegatedCommand,
  req: CniRequest<unknown>,
): Promise<CniResult | undefined> {
  try {
    const own: CniRequest<C> = {
      ...req,
      command,
      config: plugin.parseConfig(req.raw, req.cniVersion),
    };
    switch (command) {
      case "ADD":
        // The result as the wire carries it in this cniVersion (0.x: per-IP version, no 1.1 route keys).
        return parseResult(convertResult(await plugin.add(own), req.cniVersion), `${plugin.type} result`);
      case "DEL":
        await plugin.del(own);
        return undefined;
      case "CHECK":
        await plugin.check(own);
        return undefined;
      case "GC":
        await plugin.gc?.(own);
        return undefined;
      case "STATUS":
        await plugin.status?.(own);
        return undefined;
    }
  } catch (err) {
    // As from an executed delegate: the code kept, the type in front; a bug is an internal error.
    const e =
      err instanceof CniError
        ? err
        : new CniError(CniErrorCode.Internal, "internal error in plugin", describeError(err));
    throw new CniError(e.cniCode, `${plugin.type}: ${e.message}`, e.details, { cause: err });
  }
}

/** Run a delegate's DEL, CHECK, GC or STATUS; throws its error as a CniError. */
export async function runDelegate(
  type: string,
  command: Exclude<DelegatedCommand, "ADD">,
  req: CniRequest<unknown>,
  opts: DelegateOptions = {},
): Promise<void> {
  const linked = opts.linked?.[type];
  if (linked) await callLinked(linked, command, req);
  else await execDelegate(type, command, req, opts.netnsPath);
}

/** Turn a failed delegate's error object into a CniError that keeps its code and text. */
function errorFromOutcome(type: string, command: CniCommand, outcome: PluginOutcome): CniError {
  try {
    const e = JSON.parse(outcome.stdout) as { code?: number; msg?: string; details?: string };
    if (typeof e.code === "number") {
      return new CniError(e.code as CniErrorCode, `${type}: ${e.msg ?? "failed"}`, e.details ?? "");
    }
  } catch (err) {
    return new CniError(
      CniErrorCode.Internal,
      `${type} ${command} failed without an error object`,
      `${describeError(err)}; stderr: ${outcome.stderr.trim()}`,
    );
  }
  return new CniError(CniErrorCode.Internal, `${type} ${command} failed`, outcome.stderr.trim());
}

/** Run a delegate's ADD (an IPAM allocation) and decode its result. */
export async function delegateAdd(
  type: string,
  req: CniRequest<unknown>,
  opts: DelegateOptions = {},
): Promise<CniResult> {
  const linked = opts.linked?.[type];
  if (linked) return (await callLinked(linked, "ADD", req)) as CniResult;
  const outcome = await execDelegate(type, "ADD", req, opts.netnsPath);
  try {
    return parseResult(JSON.parse(outcome.stdout), `${type} result`);
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw new CniError(
      CniErrorCode.DecodingFailure,
      `${type} returned a result that is not JSON`,
      describeError(err),
    );
  }
}
