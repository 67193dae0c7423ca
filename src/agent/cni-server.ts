import { createServer, type Server, type Socket } from "node:net";
import type { PluginInvocation, PluginOutcome } from "../cni/skeleton.js";
import { describeError } from "../common/errors.js";
import { decodeShimRequest, encodeShimReply } from "./cni-wire.js";

/** Abstract UNIX socket name (leading NUL): one per network namespace, so one per node. */
export const agentSocketName = "\0strata-cni";

export type PluginRunner = (inv: PluginInvocation) => Promise<PluginOutcome>;

export interface CniServerOptions {
  /** Plugin type -> in-process runner (dispatch bound to the plugin). */
  readonly plugins: Readonly<Record<string, PluginRunner>>;
  readonly socketName?: string;
  readonly onRequest?: (type: string, command: string, ms: number, exitCode: number) => void;
}

/**
 * Serves CNI invocations forwarded by the shim, running the plugin verbs inside the agent so a
 * request costs no Node start-up. Each connection is one invocation.
 */
export async function startCniServer(opts: CniServerOptions): Promise<Server> {
  // allowHalfOpen: the shim half-closes after sending stdin and then reads the reply.
  const server = createServer({ allowHalfOpen: true }, (socket) => void handle(socket, opts));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketName ?? agentSocketName, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

async function handle(socket: Socket, opts: CniServerOptions): Promise<void> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => socket.destroy());
  await new Promise<void>((resolve) => socket.once("end", () => resolve()));
  const started = performance.now();
  let reply: Buffer;
  let type = "?";
  let command = "?";
  try {
    const req = decodeShimRequest(Buffer.concat(chunks));
    type = req.type;
    command = req.env.CNI_COMMAND ?? "?";
    const runner = opts.plugins[req.type];
    if (!runner) {
      const err = {
        cniVersion: "1.1.0",
        code: 7,
        msg: `the strata agent has no plugin "${req.type}"`,
        details: `known types: ${Object.keys(opts.plugins).join(", ")}`,
      };
      reply = encodeShimReply(1, `${JSON.stringify(err)}\n`, "");
    } else {
      const outcome = await runner({ env: { ...process.env, ...req.env }, stdin: req.stdin });
      reply = encodeShimReply(outcome.exitCode, outcome.stdout, outcome.stderr);
      opts.onRequest?.(type, command, performance.now() - started, outcome.exitCode);
    }
  } catch (err) {
    const body = {
      cniVersion: "1.1.0",
      code: 999,
      msg: "strata agent failed to decode the request",
      details: describeError(err),
    };
    reply = encodeShimReply(1, `${JSON.stringify(body)}\n`, "");
  }
  socket.end(reply);
}
