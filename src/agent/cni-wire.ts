/**
 * The shim <-> agent wire format (see src/shim/cni-shim.c), as pure encode/decode.
 * Request: "STRATA-CNI 1\n" type "\n" then "KEY=VALUE\0"... "\0" then stdin bytes to EOF.
 * Reply: "<exit code> <stdout byte length>\n" stdout stderr.
 */
import type { CniError } from "../cni/errors.js";
import { StrataError } from "../common/errors.js";

export interface ShimRequest {
  readonly type: string;
  readonly env: Record<string, string>;
  readonly stdin: string;
}

export class ShimWireError extends StrataError {
  constructor(message: string) {
    super("agent.wire", message);
  }
}

const magic = "STRATA-CNI 1\n";

export function decodeShimRequest(buf: Buffer): ShimRequest {
  if (buf.subarray(0, magic.length).toString("latin1") !== magic) {
    throw new ShimWireError("request does not start with the STRATA-CNI 1 header");
  }
  let pos = magic.length;
  const nl = buf.indexOf(0x0a, pos);
  if (nl < 0) throw new ShimWireError("request has no plugin type line");
  const type = buf.subarray(pos, nl).toString("utf8");
  pos = nl + 1;
  const env: Record<string, string> = {};
  for (;;) {
    const end = buf.indexOf(0, pos);
    if (end < 0) throw new ShimWireError("environment block is not terminated");
    if (end === pos) {
      pos++;
      break;
    }
    const entry = buf.subarray(pos, end).toString("utf8");
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    pos = end + 1;
  }
  return { type, env, stdin: buf.subarray(pos).toString("utf8") };
}

/** The variables a CNI request may set; everything else (CNI_PATH too) is the agent's own. */
const requestVariables = ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS"] as const;

/**
 * Pure: the environment a request runs with inside the agent. Only the per-call CNI variables come
 * from the request; delegated plugins are found on the agent's own plugin directories, never on a
 * CNI_PATH the caller chose (that would run the caller's program as root).
 */
export function agentRequestEnv(
  requestEnv: Readonly<Record<string, string>>,
  cniPath: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of requestVariables) {
    const v = requestEnv[k];
    if (v !== undefined) env[k] = v;
  }
  env.CNI_PATH = cniPath.join(":");
  return env;
}

export function encodeShimRequest(req: ShimRequest): Buffer {
  const envBlock = Object.entries(req.env)
    .map(([k, v]) => `${k}=${v}\0`)
    .join("");
  return Buffer.from(`${magic}${req.type}\n${envBlock}\0${req.stdin}`, "utf8");
}

export function encodeShimReply(exitCode: number, stdout: string, stderr: string): Buffer {
  const out = Buffer.from(stdout, "utf8");
  return Buffer.concat([Buffer.from(`${exitCode} ${out.length}\n`), out, Buffer.from(stderr, "utf8")]);
}

/**
 * A failure answered by the agent itself (not by a plugin): exit code 1 and the CNI error object
 * on stdout, as a plugin would print it (CNI spec, "Error").
 */
export function encodeShimErrorReply(err: CniError, cniVersion = "1.1.0"): Buffer {
  return encodeShimReply(1, `${JSON.stringify(err.toJSON(cniVersion))}\n`, "");
}

export function decodeShimReply(buf: Buffer): { exitCode: number; stdout: string; stderr: string } {
  const nl = buf.indexOf(0x0a);
  const m = /^(\d+) (\d+)$/.exec(buf.subarray(0, Math.max(nl, 0)).toString("latin1"));
  if (nl < 0 || !m) throw new ShimWireError("reply has no valid header");
  const outLen = Number(m[2]);
  return {
    exitCode: Number(m[1]),
    stdout: buf.subarray(nl + 1, nl + 1 + outLen).toString("utf8"),
    stderr: buf.subarray(nl + 1 + outLen).toString("utf8"),
  };
}
