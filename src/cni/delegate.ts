import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "../common/errors.js";
import { runProgram } from "../process/run-program.js";
import { CniError, CniErrorCode } from "./errors.js";
import { type CniResult, parseResult } from "./result.js";
import type { CniCommand, CniRequest, PluginInvocation, PluginOutcome } from "./skeleton.js";

/**
 * Runs a delegated plugin (an IPAM plugin) the way the spec prescribes: same stdin, same
 * environment with CNI_COMMAND set, found on CNI_PATH. `inProcess` lets a caller short-circuit a
 * plugin it links itself (strata-ipam) while keeping exactly the same wire contract.
 */
export type InProcessPlugin = (inv: PluginInvocation) => Promise<PluginOutcome>;

export interface DelegateOptions {
  readonly inProcess?: Readonly<Record<string, InProcessPlugin>>;
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

async function execPlugin(path: string, inv: PluginInvocation): Promise<PluginOutcome> {
  const r = await runProgram([path], { input: inv.stdin, env: inv.env as NodeJS.ProcessEnv });
  return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
}

export async function runDelegate(
  type: string,
  command: CniCommand,
  req: CniRequest<unknown>,
  stdin: string,
  opts: DelegateOptions = {},
): Promise<PluginOutcome> {
  const inv: PluginInvocation = { env: { ...process.env, ...delegateEnv(req, command) }, stdin };
  const local = opts.inProcess?.[type];
  const outcome = local ? await local(inv) : await execPlugin(await findOnPath(type, req.cniPath), inv);
  if (outcome.exitCode !== 0) throw errorFromOutcome(type, command, outcome);
  return outcome;
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

/** Run an IPAM ADD and decode its result. */
export async function delegateAdd(
  type: string,
  req: CniRequest<unknown>,
  stdin: string,
  opts?: DelegateOptions,
): Promise<CniResult> {
  const outcome = await runDelegate(type, "ADD", req, stdin, opts);
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
