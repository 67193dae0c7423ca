import { chmod } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { CniError, CniErrorCode } from "../cni/errors.js";
import type { PluginRunner } from "../cni/skeleton.js";
import { describeError } from "../common/errors.js";
import { claimSocketPath, prepareSocketDir } from "./cni-socket.js";
import {
  agentRequestEnv,
  decodeShimRequest,
  encodeShimErrorReply,
  encodeShimReply,
  type ShimRequest,
} from "./cni-wire.js";

/** Bounds on what one caller can hold of the agent. */
export interface CniServerLimits {
  /** Bytes of one request (env + network configuration); a CNI config is a few KiB. */
  readonly maxRequestBytes: number;
  /** Time from connect until the request has been sent whole (the shim sends at once). */
  readonly readTimeoutMs: number;
  /** Connections being read or served at once; more are answered "try again later" at once. */
  readonly maxInFlight: number;
}

export const defaultCniServerLimits: CniServerLimits = {
  maxRequestBytes: 1 << 20,
  readTimeoutMs: 10_000,
  maxInFlight: 64,
};

export type CniRejection = "overload" | "too-large" | "timeout";

export interface CniServerOptions {
  /** Plugin type -> in-process runner (dispatch bound to the plugin). */
  readonly plugins: Readonly<Record<string, PluginRunner>>;
  /** The socket file (in a root-only directory, see cni-socket.ts). */
  readonly socketPath: string;
  /** The agent's own plugin directories: delegates run from here, whatever a request says. */
  readonly cniPath: readonly string[];
  readonly limits?: Partial<CniServerLimits>;
  readonly onRequest?: (type: string, command: string, ms: number, exitCode: number) => void;
  readonly onRejected?: (reason: CniRejection) => void;
}

/**
 * Serves CNI invocations forwarded by the shim, running the plugin verbs inside the agent so a
 * request costs no Node start-up. Each connection is one invocation. Only root can connect (the
 * socket is 0600 in a 0700 directory); what a request may set is limited to the per-call CNI
 * variables, and every connection is bounded in size, time and number.
 */
export async function startCniServer(opts: CniServerOptions): Promise<Server> {
  const limits = { ...defaultCniServerLimits, ...opts.limits };
  const dir = opts.socketPath.slice(0, opts.socketPath.lastIndexOf("/")) || "/";
  await prepareSocketDir(dir);
  await claimSocketPath(opts.socketPath);
  let inFlight = 0;
  // allowHalfOpen: the shim half-closes after sending stdin and then reads the reply.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    if (inFlight >= limits.maxInFlight) {
      opts.onRejected?.("overload");
      const busy = new CniError(
        CniErrorCode.TryAgainLater,
        "the strata agent is busy",
        `${inFlight} requests are in flight (limit ${limits.maxInFlight}); retry`,
      );
      const reply = encodeShimErrorReply(busy);
      socket.end(reply, () => socket.destroy());
      return;
    }
    inFlight++;
    socket.once("close", () => inFlight--);
    void handle(socket, opts, limits);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // The directory already keeps everyone but root out; the socket's own mode says so too.
  await chmod(opts.socketPath, 0o600);
  return server;
}

/** The whole request, or why it was cut off. */
function readRequest(socket: Socket, limits: CniServerLimits): Promise<Buffer | CniRejection> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: Buffer | CniRejection) => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      resolve(r);
    };
    const timer = setTimeout(() => finish("timeout"), limits.readTimeoutMs);
    socket.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limits.maxRequestBytes) finish("too-large");
      else chunks.push(c);
    });
    socket.once("end", () => finish(Buffer.concat(chunks)));
    socket.once("close", () => finish("timeout"));
  });
}

/** Why a request was cut off, as the CNI error the caller gets. */
function rejectionError(r: CniRejection, limits: CniServerLimits): CniError {
  if (r === "too-large")
    return new CniError(
      CniErrorCode.InvalidNetworkConfig,
      "the CNI request is too large",
      `requests are limited to ${limits.maxRequestBytes} bytes (environment and network configuration)`,
    );
  if (r === "timeout")
    return new CniError(
      CniErrorCode.TryAgainLater,
      "the CNI request was not sent in time",
      `the whole request must arrive within ${limits.readTimeoutMs} ms; retry`,
    );
  return new CniError(CniErrorCode.TryAgainLater, "the strata agent is busy", "retry");
}

async function handle(socket: Socket, opts: CniServerOptions, limits: CniServerLimits): Promise<void> {
  const request = await readRequest(socket, limits);
  if (typeof request === "string") {
    opts.onRejected?.(request);
    const reply = encodeShimErrorReply(rejectionError(request, limits));
    if (!socket.destroyed) socket.end(reply, () => socket.destroy());
    return;
  }
  if (!socket.destroyed) socket.end(await serve(request, opts));
}

/** One decoded request run by its plugin; every failure of the agent's own is a CniError. */
async function serve(request: Buffer, opts: CniServerOptions): Promise<Buffer> {
  const started = performance.now();
  let req: ShimRequest;
  try {
    req = decodeShimRequest(request);
  } catch (err) {
    const bad = new CniError(
      CniErrorCode.DecodingFailure,
      "strata agent failed to decode the request",
      describeError(err),
      { cause: err },
    );
    return encodeShimErrorReply(bad);
  }
  const runner = opts.plugins[req.type];
  if (!runner) {
    const unknown = new CniError(
      CniErrorCode.InvalidNetworkConfig,
      `the strata agent has no plugin "${req.type}"`,
      `known types: ${Object.keys(opts.plugins).join(", ")}`,
    );
    return encodeShimErrorReply(unknown);
  }
  try {
    const outcome = await runner({ env: agentRequestEnv(req.env, opts.cniPath), stdin: req.stdin });
    opts.onRequest?.(req.type, req.env.CNI_COMMAND ?? "?", performance.now() - started, outcome.exitCode);
    return encodeShimReply(outcome.exitCode, outcome.stdout, outcome.stderr);
  } catch (err) {
    // The skeleton turns every plugin failure into an outcome; reaching here is a bug of ours.
    if (err instanceof CniError) return encodeShimErrorReply(err);
    const internal = new CniError(
      CniErrorCode.Internal,
      `the strata agent failed to run the ${req.type} plugin`,
      describeError(err),
      { cause: err },
    );
    return encodeShimErrorReply(internal);
  }
}
